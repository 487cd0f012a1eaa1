import type {
  EnvironmentRecord,
  LabelRecord,
  Role,
  TokenRecord,
  VersionRecord,
  VersionSummaryRecord,
  WorkspaceRecord,
} from "./types";

/** Row shapes shared by the SQL backends, and their mapping to records. */
export type Row = Record<string, unknown>;

const bool = (v: unknown): boolean => v === true || v === 1 || v === "1" || v === "t";
const str = (v: unknown): string => String(v);

/** A nullable TEXT column. */
export const strOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
/** A nullable number column (PostgreSQL answers BIGINT as text). */
export const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
/** A nullable column of JSON text. */
export const jsonOrNull = <T>(v: unknown): T | null =>
  v === null || v === undefined ? null : (JSON.parse(String(v)) as T);

export function toWorkspace(r: Row): WorkspaceRecord {
  return { id: str(r.id), name: str(r.name), createdAt: str(r.created_at) };
}

export function toToken(r: Row): TokenRecord {
  return {
    id: str(r.id),
    workspaceId: str(r.workspace_id),
    name: str(r.name),
    role: str(r.role) as Role,
    createdAt: str(r.created_at),
    revokedAt: strOrNull(r.revoked_at),
  };
}

export function toEnvironment(r: Row, prefix = ""): EnvironmentRecord {
  return {
    name: str(r[`${prefix}name`]),
    latestVersion: Number(r[`${prefix}latest_version`]),
    archived: bool(r[`${prefix}archived`]),
    curated: bool(r[`${prefix}curated`]),
    createdAt: str(r[`${prefix}created_at`]),
    updatedAt: str(r[`${prefix}updated_at`]),
  };
}

export function toVersion(r: Row): VersionRecord {
  return { ...toVersionSummary(r), definitionJson: str(r.definition), lockJson: strOrNull(r.lock) };
}

export function toVersionSummary(r: Row): VersionSummaryRecord {
  return {
    name: str(r.name),
    version: Number(r.version),
    definitionHash: str(r.definition_hash),
    definitionBlob: str(r.definition_blob),
    description: strOrNull(r.description),
    tags: JSON.parse(str(r.tags)) as Record<string, string>,
    createdAt: str(r.created_at),
    createdBy: str(r.created_by),
    imageKey: strOrNull(r.image_key),
    // Full rows carry the lock itself; list rows a computed `locked` flag.
    locked: "lock" in r ? r.lock !== null && r.lock !== undefined : bool(r.locked),
  };
}

export function toLabel(r: Row): LabelRecord {
  return { label: str(r.label), version: Number(r.version), updatedAt: str(r.updated_at) };
}

/** Encode tags as JSON with keys in a stable order. */
export function tagsJson(tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = tags[k]!;
  return JSON.stringify(out);
}

/**
 * The key most tables share, a name in one workspace, as a filter:
 * `.where((eb) => eb.and(named(workspaceId, name)))`. Both must be text: Kysely leaves an
 * undefined key out of an object filter, so a missing workspace id would match (or delete) every
 * workspace's rows of that name.
 */
export function named(workspaceId: string, name: string): { workspace_id: string; name: string } {
  if (typeof workspaceId !== "string" || typeof name !== "string") {
    throw new TypeError(
      `Expected a workspace id and a name as text; received ${typeof workspaceId} and ${typeof name}`,
    );
  }
  return { workspace_id: workspaceId, name };
}
