import { environments as E } from "@mlenv/api";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import type { Workspace } from "./workspace";

/** A token's role in its workspace. */
export type Role = E.Whoami["role"];

/** One registered, immutable version of an environment (server JSON). */
export type EnvironmentVersion = E.EnvironmentVersion;

/** One version as the history lists it (without its definition). */
export type VersionSummary = E.VersionSummary;

/** The latest version of one environment, as listed. */
export type EnvironmentSummary = E.EnvironmentSummary;

/** The answer to a register or clone. `created` is false when an identical version existed. */
export type RegisterResult = E.Registered;

export type WhoAmI = E.Whoami;

/** A selector of one version: latest (none), a number or a label. */
export interface VersionSelector {
  /** A version number; its decimal string (`"1"`, as the reference and `Environment.version` hold it) too. */
  version?: number | string | undefined;
  label?: string | undefined;
}

export interface ListOptions {
  /** Only names starting with this prefix. */
  prefix?: string | undefined;
  /** `key` or `key=value`. */
  tag?: string | undefined;
  /** Include archived environments: false (default), true, or "only". */
  archived?: boolean | "only" | undefined;
  /** Page size (1..500). */
  limit?: number | undefined;
  cursor?: string | undefined;
}

export type ListPage = E.EnvironmentList;

export type DiffResult = E.Diff;

export type LabelInfo = E.Label;

/**
 * A register call: the definition (its `description` and `tags` travel inside it) and optionally
 * its mlenv.lock (a lock document, or its YAML text), stored with the version; the server refuses
 * a lock made from another definition (E_LOCK_MISMATCH).
 */
export type RegisterRequest = E.RegisterInput;

export interface CloneRequest extends VersionSelector {
  newName: string;
}

function positiveVersion(raw: number | string): number {
  const v = typeof raw === "string" && /^\s*[1-9][0-9]{0,15}\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a version number such as 1 or "1"; received ${preview(raw)}`,
    );
  }
  return v;
}

function selectorQuery(sel: VersionSelector): { version?: number; label?: string } {
  if (sel.version !== undefined && sel.label !== undefined) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a version or a label, not both; received version ${sel.version} and label ${preview(sel.label)}`,
    );
  }
  return {
    ...(sel.version !== undefined ? { version: positiveVersion(sel.version) } : {}),
    ...(sel.label !== undefined ? { label: sel.label } : {}),
  };
}

/** Typed calls to the environment registry of one workspace (`/api/v1`). */
export class RegistryClient {
  constructor(readonly workspace: Workspace) {}

  whoami(): Promise<WhoAmI> {
    return this.workspace.call(E.whoami);
  }

  register(request: RegisterRequest): Promise<RegisterResult> {
    return this.workspace.call(E.registerEnvironment, { body: request });
  }

  get(name: string, selector: VersionSelector = {}): Promise<EnvironmentVersion> {
    return this.workspace.call(E.getEnvironment, { params: { name }, query: selectorQuery(selector) });
  }

  listPage(options: ListOptions = {}): Promise<ListPage> {
    const archived = options.archived === undefined ? undefined : String(options.archived);
    return this.workspace.call(E.listEnvironments, {
      query: {
        prefix: options.prefix,
        tag: options.tag,
        archived,
        limit: options.limit,
        cursor: options.cursor,
      },
    });
  }

  /** Every page of the list, followed to the end. */
  async list(options: Omit<ListOptions, "cursor"> = {}): Promise<EnvironmentSummary[]> {
    const out: EnvironmentSummary[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await this.listPage({ ...options, cursor });
      out.push(...page.items);
      if (!page.nextCursor) return out;
      cursor = page.nextCursor;
    }
  }

  /** The lock stored with a version (a lock document; validate with core's validateLock). */
  lock(name: string, version: number): Promise<Record<string, unknown>> {
    return this.workspace.call(E.getEnvironmentLock, {
      params: { name, version: String(positiveVersion(version)) },
    });
  }

  /** Every version, oldest first, without definitions. */
  versions(name: string): Promise<E.History> {
    return this.workspace.call(E.environmentHistory, { params: { name } });
  }

  diff(name: string, from: number, to: number): Promise<DiffResult> {
    return this.workspace.call(E.diffEnvironment, {
      params: { name },
      query: { from: positiveVersion(from), to: positiveVersion(to) },
    });
  }

  labels(name: string): Promise<{ items: LabelInfo[] }> {
    return this.workspace.call(E.listLabels, { params: { name } });
  }

  setLabel(name: string, label: string, version: number): Promise<LabelInfo> {
    return this.workspace.call(E.setLabel, {
      params: { name, label },
      body: { version: positiveVersion(version) },
    });
  }

  async deleteLabel(name: string, label: string): Promise<void> {
    await this.workspace.call(E.deleteLabel, { params: { name, label } });
  }

  archive(name: string): Promise<EnvironmentSummary> {
    return this.workspace.call(E.archiveEnvironment, { params: { name } });
  }

  restore(name: string): Promise<EnvironmentSummary> {
    return this.workspace.call(E.restoreEnvironment, { params: { name } });
  }

  clone(name: string, request: CloneRequest): Promise<RegisterResult> {
    const q = selectorQuery(request);
    return this.workspace.call(E.cloneEnvironment, {
      params: { name },
      body: {
        newName: request.newName,
        ...(q.version !== undefined ? { version: q.version } : {}),
        ...(q.label !== undefined ? { label: q.label } : {}),
      },
    });
  }
}
