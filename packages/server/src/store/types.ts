/** A role of an API token. Each role includes the rights of the ones before it. */
export type Role = "reader" | "writer" | "admin";

export interface WorkspaceRecord {
  id: string;
  name: string;
  createdAt: string;
}

export interface TokenRecord {
  id: string;
  workspaceId: string;
  name: string;
  role: Role;
  createdAt: string;
  revokedAt: string | null;
}

export interface AuthenticatedToken extends TokenRecord {
  workspaceName: string;
}

export interface EnvironmentRecord {
  name: string;
  latestVersion: number;
  archived: boolean;
  curated: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface VersionRecord {
  name: string;
  version: number;
  definitionHash: string;
  /** The definition as JSON text (stored verbatim). */
  definitionJson: string;
  definitionBlob: string;
  description: string | null;
  tags: Record<string, string>;
  createdAt: string;
  createdBy: string;
  /** The image key the registry computed (over the lock when locked); null before migration 0007. */
  imageKey: string | null;
  /** Whether a lock is stored with this version. */
  locked: boolean;
  /** The stored lock as JSON text; null when unlocked. */
  lockJson: string | null;
}

export interface LabelRecord {
  label: string;
  version: number;
  updatedAt: string;
}

export interface Resolved {
  environment: EnvironmentRecord;
  version: VersionRecord | null;
  labels: string[];
}

export interface RegisterInput {
  workspaceId: string;
  name: string;
  definitionHash: string;
  /** The definition as JSON text, stored verbatim. */
  definitionJson: string;
  definitionBlob: string;
  description: string | null;
  tags: Record<string, string>;
  curated: boolean;
  createdBy: string;
  now: string;
  /** The lock as JSON text; null or absent: unlocked. */
  lockJson?: string | null;
  /** The image key the registry computed; absent only for raw seeding (stored as null). */
  imageKey?: string | null;
  /**
   * Only create a new name (clone): when the name already has versions, nothing is written and
   * its latest version is returned with `created: false`. Checked in the register's transaction.
   */
  onlyIfNew?: boolean;
}

export interface RegisterResult {
  created: boolean;
  /** The existing version was unlocked and the given lock was attached to it. */
  lockAttached?: boolean;
  environment: EnvironmentRecord;
  version: VersionRecord;
}

export interface ListInput {
  workspaceId: string;
  prefix?: string | undefined;
  tagKey?: string | undefined;
  tagValue?: string | undefined;
  /** Names strictly greater than this one (paging). */
  after?: string | undefined;
  limit: number;
  archived: "exclude" | "include" | "only";
}

/** A version without its definition text (what lists need). */
export type VersionSummaryRecord = Omit<VersionRecord, "definitionJson" | "lockJson">;

/** An environment in a list page: its name and its list item (the API's summary) as JSON text. */
export interface ListedEnvironment {
  name: string;
  summaryJson: string;
}

/**
 * Durable state of the registry. Every backend passes the shared contract suite
 * (packages/server/test/store/contract.ts). Methods never mix workspaces: each takes a workspaceId.
 */
export interface Store {
  readonly kind: "sqlite" | "postgres";
  /** Apply pending migrations (safe to call from several processes at once). */
  migrate(): Promise<void>;
  /** Throws when the database cannot answer (health checks). */
  ping(): Promise<void>;
  /** Refresh planner statistics (after bulk loads; cheap to call at any time). */
  optimize(): Promise<void>;
  /** Ids of the migrations applied so far, in order. */
  appliedMigrations(): Promise<string[]>;
  close(): Promise<void>;

  /**
   * Create a workspace; with `admin`, also its first admin token, in the same transaction (both
   * or neither: a crash in between never leaves a workspace nobody can log in to).
   */
  createWorkspace(
    name: string,
    now: string,
    admin?: { name: string; tokenHash: string },
  ): Promise<WorkspaceRecord>;
  getWorkspace(name: string): Promise<WorkspaceRecord | null>;
  listWorkspaces(): Promise<WorkspaceRecord[]>;

  createToken(input: {
    workspaceId: string;
    name: string;
    role: Role;
    tokenHash: string;
    now: string;
  }): Promise<TokenRecord>;
  /** The live (not revoked) token with this hash, with its workspace's name. */
  findToken(tokenHash: string): Promise<AuthenticatedToken | null>;
  listTokens(workspaceId: string): Promise<TokenRecord[]>;
  /** Revoke; false when no live token with this id exists in the workspace. */
  revokeToken(workspaceId: string, id: string, now: string): Promise<boolean>;
  /**
   * Backends shared by several processes tell each one about revocations: `onRevoked(hash)` per
   * revoked token, `onRevoked(null)` when the feed is lost (forget every cached token), and
   * `onResumed()` once it is back (listening again after a database restart: revocations made
   * while it was away were missed, so forget every cached token once more). Returns a function
   * that stops watching. Absent: only this process revokes (SQLite).
   */
  watchRevocations?(
    onRevoked: (tokenHash: string | null) => void,
    onResumed?: () => void,
  ): Promise<() => Promise<void>>;

  /**
   * Register a definition: an existing version with the same hash is returned unchanged, except
   * that a lock given for an unlocked version is attached to it (with its image key; a locked
   * version keeps its lock: the caller compares); otherwise the next version number is allocated atomically (no gaps, no duplicates, even
   * across processes).
   */
  register(input: RegisterInput): Promise<RegisterResult>;
  getEnvironment(workspaceId: string, name: string): Promise<EnvironmentRecord | null>;
  /**
   * The hot read path in one query: the environment, the version asked for (a number, the one a
   * label points at, or the latest) and the labels pointing at that version. null when the name
   * does not exist; `version` null when the version or label does not.
   */
  resolve(
    workspaceId: string,
    name: string,
    which: { version?: number | undefined; label?: string | undefined },
  ): Promise<Resolved | null>;
  getVersion(workspaceId: string, name: string, version: number): Promise<VersionRecord | null>;
  /** Whether any environment version (of any workspace) references this definition blob (the start-up blob sweep asks). */
  definitionBlobInUse(digest: string): Promise<boolean>;
  listVersions(workspaceId: string, name: string): Promise<VersionRecord[]>;
  listEnvironments(input: ListInput): Promise<ListedEnvironment[]>;
  setArchived(
    workspaceId: string,
    name: string,
    archived: boolean,
    now: string,
  ): Promise<EnvironmentRecord | null>;

  setLabel(input: {
    workspaceId: string;
    name: string;
    label: string;
    version: number;
    now: string;
  }): Promise<LabelRecord>;
  deleteLabel(workspaceId: string, name: string, label: string): Promise<boolean>;
  getLabel(workspaceId: string, name: string, label: string): Promise<LabelRecord | null>;
  listLabels(workspaceId: string, name: string): Promise<LabelRecord[]>;
}
