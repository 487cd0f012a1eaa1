import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { seg } from "./internal/url";
import type { Workspace } from "./workspace";

/** A token's role in its workspace. */
export type Role = "reader" | "writer" | "admin";

/** One registered, immutable version of an environment (server JSON). */
export interface EnvironmentVersion {
  name: string;
  version: number;
  definitionHash: string;
  /** The definition as registered (core's JSON form, `version` set); absent in history listings. */
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
  /** Whether an mlenv.lock is stored with this version (`RegistryClient.lock`). */
  locked: boolean;
}

/** The latest version of one environment, as listed. */
export interface EnvironmentSummary extends Omit<EnvironmentVersion, "definition"> {
  versionCount: number;
}

/** The answer to a register or clone. `created` is false when an identical version existed. */
export interface RegisterResult {
  created: boolean;
  environment: EnvironmentVersion;
}

export interface WhoAmI {
  workspace: string;
  role: Role;
  tokenId: string;
  tokenName: string;
}

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

export interface ListPage {
  items: EnvironmentSummary[];
  nextCursor: string | null;
}

export interface DiffResult {
  name: string;
  from: number;
  to: number;
  fromHash: string;
  toHash: string;
  /** Core's `diffDefinitions` output. */
  changes: unknown;
}

export interface LabelInfo {
  label: string;
  version: number;
  updatedAt: string;
}

/** A register call: the definition (its `description` and `tags` travel inside it). */
export interface RegisterRequest {
  definition: unknown;
  /**
   * The definition's mlenv.lock (a lock document, or its YAML text). Stored with the version;
   * the server refuses a lock made from another definition (E_LOCK_MISMATCH).
   */
  lock?: unknown;
}

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

function selectorQuery(sel: VersionSelector): Record<string, string | number | undefined> {
  if (sel.version !== undefined && sel.label !== undefined) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a version or a label, not both; received version ${sel.version} and label ${preview(sel.label)}`,
    );
  }
  return {
    version: sel.version === undefined ? undefined : positiveVersion(sel.version),
    label: sel.label,
  };
}

/** Typed calls to the environment registry of one workspace (`/api/v1`). */
export class RegistryClient {
  constructor(readonly workspace: Workspace) {}

  whoami(): Promise<WhoAmI> {
    return this.workspace.request("GET", "/api/v1/whoami");
  }

  register(request: RegisterRequest): Promise<RegisterResult> {
    return this.workspace.request("POST", "/api/v1/environments", { body: request });
  }

  get(name: string, selector: VersionSelector = {}): Promise<EnvironmentVersion> {
    return this.workspace.request("GET", `/api/v1/environments/${seg(name)}`, {
      query: selectorQuery(selector),
    });
  }

  listPage(options: ListOptions = {}): Promise<ListPage> {
    const archived = options.archived === undefined ? undefined : String(options.archived);
    return this.workspace.request("GET", "/api/v1/environments", {
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
    return this.workspace.request(
      "GET",
      `/api/v1/environments/${seg(name)}/versions/${positiveVersion(version)}/lock`,
    );
  }

  versions(name: string): Promise<{ name: string; archived: boolean; items: EnvironmentVersion[] }> {
    return this.workspace.request("GET", `/api/v1/environments/${seg(name)}/versions`);
  }

  diff(name: string, from: number, to: number): Promise<DiffResult> {
    return this.workspace.request("GET", `/api/v1/environments/${seg(name)}/diff`, {
      query: { from: positiveVersion(from), to: positiveVersion(to) },
    });
  }

  labels(name: string): Promise<{ items: LabelInfo[] }> {
    return this.workspace.request("GET", `/api/v1/environments/${seg(name)}/labels`);
  }

  setLabel(name: string, label: string, version: number): Promise<LabelInfo> {
    return this.workspace.request("PUT", `/api/v1/environments/${seg(name)}/labels/${seg(label)}`, {
      body: { version: positiveVersion(version) },
    });
  }

  async deleteLabel(name: string, label: string): Promise<void> {
    await this.workspace.request("DELETE", `/api/v1/environments/${seg(name)}/labels/${seg(label)}`);
  }

  archive(name: string): Promise<EnvironmentSummary> {
    return this.workspace.request("POST", `/api/v1/environments/${seg(name)}/archive`);
  }

  restore(name: string): Promise<EnvironmentSummary> {
    return this.workspace.request("POST", `/api/v1/environments/${seg(name)}/restore`);
  }

  clone(name: string, request: CloneRequest): Promise<RegisterResult> {
    const q = selectorQuery(request);
    const body: Record<string, unknown> = { newName: request.newName };
    if (q.version !== undefined) body.version = q.version;
    if (q.label !== undefined) body.label = q.label;
    return this.workspace.request("POST", `/api/v1/environments/${seg(name)}/clone`, { body });
  }
}
