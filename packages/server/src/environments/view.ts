import type { EnvironmentRecord, VersionSummaryRecord } from "../store/types";

/** One version of an environment as the API returns it. */
export interface EnvironmentVersionView {
  name: string;
  version: number;
  definitionHash: string;
  definition?: Record<string, unknown>;
  definitionBlob: string;
  description: string | null;
  tags: Record<string, string>;
  labels: string[];
  curated: boolean;
  archived: boolean;
  createdAt: string;
  createdBy: string;
  /** Image key: over the lock's exact artifacts when locked, else over the loose definition. */
  imageKey: string | null;
  locked: boolean;
}

/** An environment in a list: its latest version (no definition, no labels) and how many it has. */
export interface EnvironmentSummaryView extends Omit<EnvironmentVersionView, "definition"> {
  versionCount: number;
}

/** The view of version `v` of `env` (without its definition). */
export function versionView(
  env: EnvironmentRecord,
  v: VersionSummaryRecord,
  labels: string[],
): EnvironmentVersionView {
  return {
    name: v.name,
    version: v.version,
    definitionHash: v.definitionHash,
    definitionBlob: v.definitionBlob,
    description: v.description,
    tags: v.tags,
    labels,
    curated: env.curated,
    archived: env.archived,
    createdAt: v.createdAt,
    createdBy: v.createdBy,
    imageKey: v.imageKey,
    locked: v.locked,
  };
}

/**
 * An environment's list item as JSON text, from its latest version. The store keeps it beside the
 * environment (rewritten in the transaction of every write that changes it), so a page of the list
 * is one range of one index, its items copied into the answer as they are.
 */
export function environmentSummaryJson(env: EnvironmentRecord, latest: VersionSummaryRecord): string {
  const view: EnvironmentSummaryView = { ...versionView(env, latest, []), versionCount: env.latestVersion };
  return JSON.stringify(view);
}
