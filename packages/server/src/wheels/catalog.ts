import { columnTypes, type Migration, migration } from "../store/migrator";
/** A wheel as currently published under a file name in a workspace. */
export interface WheelRecord {
  workspaceId: string;
  filename: string;
  /** PEP 503 normalised project name. */
  project: string;
  /** METADATA Name as written. */
  name: string;
  version: string;
  /** Hex SHA-256 of the wheel (its blob is `sha256:<hex>`). */
  sha256: string;
  size: number;
  /** Hex SHA-256 of METADATA (also a blob), for PEP 658. */
  metadataSha256: string;
  requiresPython: string | null;
  summary: string | null;
  yanked: boolean;
  yankedReason: string | null;
  /** 1 for the first upload, +1 for each overwrite. */
  revision: number;
  uploadedAt: string;
  uploadedBy: string;
}

/** One upload of a file name; overwritten revisions keep their bytes so old pins still resolve. */
export interface WheelRevision {
  filename: string;
  revision: number;
  sha256: string;
  size: number;
  metadataSha256: string;
  uploadedAt: string;
  uploadedBy: string;
}

export type WheelPutInput = Omit<WheelRecord, "yanked" | "yankedReason" | "revision"> & {
  /** Replace different bytes already stored under this file name. */
  overwrite: boolean;
};

export interface WheelPutResult {
  /** created: new file name; unchanged: same bytes were already there; replaced: overwrite. */
  status: "created" | "unchanged" | "replaced";
  wheel: WheelRecord;
  /** The revision that was replaced (status "replaced"). */
  previous: WheelRevision | null;
}

/** A workspace secret as listed: never the value. */
export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * Durable state of private wheels and workspace secrets. Two backends (SQLite, PostgreSQL) over
 * the tables of the `0002_wheels` migration, sharing the server's database.
 */
export interface WheelCatalog {
  get(workspaceId: string, filename: string): Promise<WheelRecord | null>;
  /** Wheels of a workspace, optionally of one project, sorted by project then file name. */
  list(workspaceId: string, project?: string): Promise<WheelRecord[]>;
  /** Distinct normalised project names, sorted. */
  projects(workspaceId: string): Promise<string[]>;
  /**
   * Publish a validated wheel atomically. Same bytes: unchanged. Different bytes: throws
   * `E_WHEEL_EXISTS` unless `overwrite`, which bumps the revision and records it.
   */
  put(input: WheelPutInput): Promise<WheelPutResult>;
  revisions(workspaceId: string, filename: string): Promise<WheelRevision[]>;
  setYanked(input: {
    workspaceId: string;
    filename: string;
    yanked: boolean;
    reason: string | null;
  }): Promise<WheelRecord | null>;

  putSecret(input: { workspaceId: string; name: string; value: string; now: string }): Promise<SecretInfo>;
  getSecret(workspaceId: string, name: string): Promise<string | null>;
  listSecrets(workspaceId: string): Promise<SecretInfo[]>;
  deleteSecret(workspaceId: string, name: string): Promise<boolean>;
  /**
   * Where a secret may be sent: hosts (`pypi.corp.example`, `host:8443`) or URL prefixes
   * (`https://pypi.corp.example/simple/`) an admin allowed; [] (nowhere) when none were set.
   */
  getSecretHosts(workspaceId: string, name: string): Promise<string[]>;
  setSecretHosts(workspaceId: string, name: string, hosts: string[]): Promise<void>;
  close(): Promise<void>;
}

/** The hosts (or URL prefixes) each workspace secret may be sent to, as a JSON array. */
export function secretHostsMigrationSql(_backend: "sqlite" | "postgres"): string {
  return `
CREATE TABLE workspace_secret_hosts (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  hosts TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
`;
}

/** Tables for wheels and secrets; appended to the server's migrations list as `0002_wheels`. */
export function wheelsMigrationSql(backend: "sqlite" | "postgres"): string {
  const { big, text } = columnTypes(backend);
  return `
CREATE TABLE wheels (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  filename ${text} NOT NULL,
  project ${text} NOT NULL,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size ${big} NOT NULL,
  metadata_sha256 TEXT NOT NULL,
  requires_python TEXT,
  summary TEXT,
  yanked INTEGER NOT NULL DEFAULT 0,
  yanked_reason TEXT,
  revision INTEGER NOT NULL,
  uploaded_at TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  PRIMARY KEY (workspace_id, filename)
);
CREATE INDEX wheels_project ON wheels(workspace_id, project);
CREATE TABLE wheel_revisions (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  filename ${text} NOT NULL,
  revision INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size ${big} NOT NULL,
  metadata_sha256 TEXT NOT NULL,
  uploaded_at TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  PRIMARY KEY (workspace_id, filename, revision)
);
CREATE TABLE workspace_secrets (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name ${text} NOT NULL,
  value TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
`;
}

/** The wheels feature's migrations: wheels, their revisions and workspace secrets. */
export const wheelMigrations: readonly Migration[] = [
  migration("0002_wheels", wheelsMigrationSql),
  // Each workspace secret is bound to the hosts / URL prefixes an admin allows it to be sent to.
  migration("0012_secret_hosts", secretHostsMigrationSql),
];

type Row = Record<string, unknown>;

export function toWheel(r: Row): WheelRecord {
  return {
    workspaceId: String(r.workspace_id),
    filename: String(r.filename),
    project: String(r.project),
    name: String(r.name),
    version: String(r.version),
    sha256: String(r.sha256),
    size: Number(r.size),
    metadataSha256: String(r.metadata_sha256),
    requiresPython: r.requires_python == null ? null : String(r.requires_python),
    summary: r.summary == null ? null : String(r.summary),
    yanked: Number(r.yanked) === 1,
    yankedReason: r.yanked_reason == null ? null : String(r.yanked_reason),
    revision: Number(r.revision),
    uploadedAt: String(r.uploaded_at),
    uploadedBy: String(r.uploaded_by),
  };
}

export function toRevision(r: Row): WheelRevision {
  return {
    filename: String(r.filename),
    revision: Number(r.revision),
    sha256: String(r.sha256),
    size: Number(r.size),
    metadataSha256: String(r.metadata_sha256),
    uploadedAt: String(r.uploaded_at),
    uploadedBy: String(r.uploaded_by),
  };
}

export function toSecretInfo(r: Row): SecretInfo {
  return { name: String(r.name), createdAt: String(r.created_at), updatedAt: String(r.updated_at) };
}
