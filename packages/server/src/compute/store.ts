import { type Database, exec, first, type SqlLocation, useDatabase } from "../store/database";
import { type Migration, migration } from "../store/migrator";
import { type Row, strOrNull } from "../store/rows";
import type { SlurmTargetSettings } from "./schemas";

/** Compute targets, the cluster jobs that run runs, datastores and their versions (migration 0011). */
export function computeMigrationSql(backend: "sqlite" | "postgres"): string {
  const big = backend === "postgres" ? "BIGINT" : "INTEGER";
  const name = backend === "postgres" ? 'TEXT COLLATE "C"' : "TEXT";
  return `
CREATE TABLE compute_targets (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name ${name} NOT NULL,
  kind TEXT NOT NULL,
  settings TEXT NOT NULL,
  secret_name TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
CREATE TABLE cluster_jobs (
  run_id TEXT PRIMARY KEY REFERENCES runs(id),
  workspace_id TEXT NOT NULL,
  target ${name} NOT NULL,
  phase TEXT NOT NULL,
  job_ids TEXT NOT NULL,
  run_dir TEXT NOT NULL,
  settings TEXT NOT NULL,
  state TEXT,
  reason TEXT,
  out_offset ${big} NOT NULL DEFAULT 0,
  err_offset ${big} NOT NULL DEFAULT 0,
  metrics_offset ${big} NOT NULL DEFAULT 0,
  missing_since TEXT,
  owner TEXT,
  owner_at TEXT,
  created_at TEXT NOT NULL
);
CREATE INDEX cluster_jobs_phase ON cluster_jobs(phase);
CREATE TABLE datastores (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name ${name} NOT NULL,
  kind TEXT NOT NULL,
  path TEXT,
  description TEXT,
  latest_version INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name)
);
CREATE TABLE datastore_versions (
  workspace_id TEXT NOT NULL,
  name ${name} NOT NULL,
  version INTEGER NOT NULL,
  digest TEXT NOT NULL,
  files TEXT NOT NULL,
  size ${big} NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name, version),
  UNIQUE (workspace_id, name, digest)
);
ALTER TABLE runs ADD COLUMN compute TEXT;
ALTER TABLE runs ADD COLUMN inputs TEXT;
`;
}

export interface ComputeTargetRecord {
  workspaceId: string;
  name: string;
  kind: "slurm";
  settings: SlurmTargetSettings;
  /** The workspace secret holding the target's credentials (never its value). */
  secretName: string | null;
  createdBy: string;
  createdAt: string;
}

/** Where a cluster job of a run is: `preparing` (files, environment), `submitted`, `done`. */
export type ClusterJobPhase = "preparing" | "submitted" | "done";

export interface ClusterJobRecord {
  runId: string;
  workspaceId: string;
  target: string;
  phase: ClusterJobPhase;
  jobIds: number[];
  runDir: string;
  /** The target's settings when the run was submitted (a detach does not orphan the job). */
  settings: SlurmTargetSettings;
  state: string | null;
  reason: string | null;
  outOffset: number;
  errOffset: number;
  metricsOffset: number;
  missingSince: string | null;
  owner: string | null;
  ownerAt: string | null;
}

export interface DatastoreRecord {
  workspaceId: string;
  name: string;
  kind: "directory" | "blob";
  /** `directory`: the absolute path every target reaches. */
  path: string | null;
  description: string | null;
  latestVersion: number;
  createdBy: string;
  createdAt: string;
}

export interface DatastoreFile {
  path: string;
  digest: string;
  size: number;
}

export interface DatastoreVersionRecord {
  name: string;
  version: number;
  /** `sha256:` of the sorted file manifest: same files, same version. */
  digest: string;
  files: DatastoreFile[];
  size: number;
  createdBy: string;
  createdAt: string;
}

/** Compute targets (Slurm clusters), the cluster jobs of runs, datastores; runs' compute and inputs. */
export const computeMigrations: readonly Migration[] = [migration("0011_compute", computeMigrationSql)];

const now = () => new Date().toISOString();
const num = (v: unknown) => Number(v ?? 0);

function toTarget(r: Row): ComputeTargetRecord {
  return {
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    kind: "slurm",
    settings: JSON.parse(String(r.settings)) as SlurmTargetSettings,
    secretName: strOrNull(r.secret_name),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
  };
}

function toJob(r: Row): ClusterJobRecord {
  return {
    runId: String(r.run_id),
    workspaceId: String(r.workspace_id),
    target: String(r.target),
    phase: String(r.phase) as ClusterJobPhase,
    jobIds: JSON.parse(String(r.job_ids)) as number[],
    runDir: String(r.run_dir),
    settings: JSON.parse(String(r.settings)) as SlurmTargetSettings,
    state: strOrNull(r.state),
    reason: strOrNull(r.reason),
    outOffset: num(r.out_offset),
    errOffset: num(r.err_offset),
    metricsOffset: num(r.metrics_offset),
    missingSince: strOrNull(r.missing_since),
    owner: strOrNull(r.owner),
    ownerAt: strOrNull(r.owner_at),
  };
}

function toDatastore(r: Row): DatastoreRecord {
  return {
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    kind: String(r.kind) as DatastoreRecord["kind"],
    path: strOrNull(r.path),
    description: strOrNull(r.description),
    latestVersion: num(r.latest_version),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
  };
}

function toVersion(r: Row): DatastoreVersionRecord {
  return {
    name: String(r.name),
    version: num(r.version),
    digest: String(r.digest),
    files: JSON.parse(String(r.files)) as DatastoreFile[],
    size: num(r.size),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
  };
}

/** Persistence of compute targets, cluster jobs and datastores (SQLite or PostgreSQL). */
export class ComputeStore {
  constructor(
    private readonly db: Database,
    /** Closes the handle when the store opened it for itself. */
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  // ---- targets -------------------------------------------------------------------------------
  async insertTarget(t: Omit<ComputeTargetRecord, "createdAt">): Promise<ComputeTargetRecord | null> {
    try {
      await this.db.all(
        `INSERT INTO compute_targets (workspace_id, name, kind, settings, secret_name, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
        [t.workspaceId, t.name, t.kind, JSON.stringify(t.settings), t.secretName, t.createdBy, now()],
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e)) return null;
      throw e;
    }
    return this.getTarget(t.workspaceId, t.name);
  }

  async getTarget(workspaceId: string, name: string): Promise<ComputeTargetRecord | null> {
    const [r] = await this.db.all("SELECT * FROM compute_targets WHERE workspace_id = ? AND name = ?", [
      workspaceId,
      name,
    ]);
    return r ? toTarget(r) : null;
  }

  async listTargets(workspaceId: string): Promise<ComputeTargetRecord[]> {
    const rows = await this.db.all("SELECT * FROM compute_targets WHERE workspace_id = ? ORDER BY name", [
      workspaceId,
    ]);
    return rows.map(toTarget);
  }

  async deleteTarget(workspaceId: string, name: string): Promise<boolean> {
    const rows = await this.db.all(
      "DELETE FROM compute_targets WHERE workspace_id = ? AND name = ? RETURNING name",
      [workspaceId, name],
    );
    return rows.length > 0;
  }

  // ---- cluster jobs --------------------------------------------------------------------------
  async createJob(input: {
    runId: string;
    workspaceId: string;
    target: string;
    runDir: string;
    settings: SlurmTargetSettings;
    owner: string;
  }): Promise<void> {
    const t = now();
    await this.db.all(
      `INSERT INTO cluster_jobs (run_id, workspace_id, target, phase, job_ids, run_dir, settings, owner, owner_at, created_at)
       VALUES (?, ?, ?, 'preparing', '[]', ?, ?, ?, ?, ?)`,
      [
        input.runId,
        input.workspaceId,
        input.target,
        input.runDir,
        JSON.stringify(input.settings),
        input.owner,
        t,
        t,
      ],
    );
  }

  async getJob(runId: string): Promise<ClusterJobRecord | null> {
    const [r] = await this.db.all("SELECT * FROM cluster_jobs WHERE run_id = ?", [runId]);
    return r ? toJob(r) : null;
  }

  async updateJob(
    runId: string,
    fields: Partial<
      Pick<
        ClusterJobRecord,
        "phase" | "jobIds" | "state" | "reason" | "outOffset" | "errOffset" | "metricsOffset" | "missingSince"
      >
    >,
  ): Promise<void> {
    const cols: string[] = [];
    const params: unknown[] = [];
    const set = (col: string, v: unknown) => {
      cols.push(`${col} = ?`);
      params.push(v);
    };
    if (fields.phase !== undefined) set("phase", fields.phase);
    if (fields.jobIds !== undefined) set("job_ids", JSON.stringify(fields.jobIds));
    if (fields.state !== undefined) set("state", fields.state);
    if (fields.reason !== undefined) set("reason", fields.reason);
    if (fields.outOffset !== undefined) set("out_offset", fields.outOffset);
    if (fields.errOffset !== undefined) set("err_offset", fields.errOffset);
    if (fields.metricsOffset !== undefined) set("metrics_offset", fields.metricsOffset);
    if (fields.missingSince !== undefined) set("missing_since", fields.missingSince);
    if (cols.length === 0) return;
    await this.db.all(`UPDATE cluster_jobs SET ${cols.join(", ")} WHERE run_id = ?`, [...params, runId]);
  }

  /**
   * Take the cluster jobs this process follows: its own and those whose owner stopped renewing
   * before `staleBefore` (another server process died). Renews the hold of each one returned.
   */
  async claimJobs(
    owner: string,
    staleBefore: Date,
  ): Promise<{ job: ClusterJobRecord; takenOver: boolean }[]> {
    const t = now();
    const rows = await this.db.all(
      `SELECT run_id, owner FROM cluster_jobs WHERE phase <> 'done' AND (owner = ? OR owner IS NULL OR owner_at < ?)`,
      [owner, staleBefore.toISOString()],
    );
    const out: { job: ClusterJobRecord; takenOver: boolean }[] = [];
    for (const r of rows) {
      const prev = strOrNull(r.owner);
      // compare-and-set: another process may have claimed it in between
      const got = await this.db.all(
        `UPDATE cluster_jobs SET owner = ?, owner_at = ? WHERE run_id = ? AND phase <> 'done'
           AND ${prev === null ? "owner IS NULL" : "owner = ?"} RETURNING *`,
        prev === null ? [owner, t, String(r.run_id)] : [owner, t, String(r.run_id), prev],
      );
      if (got[0]) out.push({ job: toJob(got[0]), takenOver: prev !== owner });
    }
    return out;
  }

  /** Let go of this process's jobs (a graceful shutdown: the next process takes them at once). */
  async releaseJobs(owner: string): Promise<void> {
    await this.db.all("UPDATE cluster_jobs SET owner = NULL WHERE owner = ? AND phase = 'submitted'", [
      owner,
    ]);
  }

  /** Record on the run which cluster ran it (`compute` column: kind, target, job ids, state, reason). */
  async setRunCompute(runId: string, compute: Record<string, unknown>): Promise<void> {
    await this.db.all("UPDATE runs SET compute = ? WHERE id = ?", [JSON.stringify(compute), runId]);
  }

  async setRunInputs(runId: string, inputs: unknown[]): Promise<void> {
    await this.db.all("UPDATE runs SET inputs = ? WHERE id = ?", [JSON.stringify(inputs), runId]);
  }

  // ---- datastores ----------------------------------------------------------------------------
  async insertDatastore(
    d: Omit<DatastoreRecord, "createdAt" | "latestVersion">,
  ): Promise<DatastoreRecord | null> {
    try {
      await this.db.all(
        `INSERT INTO datastores (workspace_id, name, kind, path, description, latest_version, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, 0, ?, ?)`,
        [d.workspaceId, d.name, d.kind, d.path, d.description, d.createdBy, now()],
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e)) return null;
      throw e;
    }
    return this.getDatastore(d.workspaceId, d.name);
  }

  async getDatastore(workspaceId: string, name: string): Promise<DatastoreRecord | null> {
    const [r] = await this.db.all("SELECT * FROM datastores WHERE workspace_id = ? AND name = ?", [
      workspaceId,
      name,
    ]);
    return r ? toDatastore(r) : null;
  }

  async listDatastores(workspaceId: string): Promise<DatastoreRecord[]> {
    const rows = await this.db.all("SELECT * FROM datastores WHERE workspace_id = ? ORDER BY name", [
      workspaceId,
    ]);
    return rows.map(toDatastore);
  }

  /** Add a version of a blob datastore (same digest: the existing version, created false). */
  async addVersion(input: {
    workspaceId: string;
    name: string;
    digest: string;
    files: DatastoreFile[];
    size: number;
    createdBy: string;
  }): Promise<{ created: boolean; version: DatastoreVersionRecord }> {
    const db = this.db;
    return db.tx(function* () {
      const same = yield* first<Row>(
        db.raw("SELECT * FROM datastore_versions WHERE workspace_id = ? AND name = ? AND digest = ?", [
          input.workspaceId,
          input.name,
          input.digest,
        ]),
      );
      if (same) return { created: false, version: toVersion(same) };
      const d = yield* first<Row>(
        db.raw("SELECT latest_version FROM datastores WHERE workspace_id = ? AND name = ?", [
          input.workspaceId,
          input.name,
        ]),
      );
      const version = num(d?.latest_version) + 1;
      const t = now();
      yield* exec(
        db.raw(
          `INSERT INTO datastore_versions (workspace_id, name, version, digest, files, size, created_by, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            input.workspaceId,
            input.name,
            version,
            input.digest,
            JSON.stringify(input.files),
            input.size,
            input.createdBy,
            t,
          ],
        ),
      );
      yield* exec(
        db.raw("UPDATE datastores SET latest_version = ? WHERE workspace_id = ? AND name = ?", [
          version,
          input.workspaceId,
          input.name,
        ]),
      );
      return {
        created: true,
        version: {
          name: input.name,
          version,
          digest: input.digest,
          files: input.files,
          size: input.size,
          createdBy: input.createdBy,
          createdAt: t,
        },
      };
    });
  }

  async getVersion(
    workspaceId: string,
    name: string,
    version: number,
  ): Promise<DatastoreVersionRecord | null> {
    const [r] = await this.db.all(
      "SELECT * FROM datastore_versions WHERE workspace_id = ? AND name = ? AND version = ?",
      [workspaceId, name, version],
    );
    return r ? toVersion(r) : null;
  }

  async listVersions(workspaceId: string, name: string): Promise<DatastoreVersionRecord[]> {
    const rows = await this.db.all(
      "SELECT * FROM datastore_versions WHERE workspace_id = ? AND name = ? ORDER BY version",
      [workspaceId, name],
    );
    return rows.map(toVersion);
  }

  close(): Promise<void> {
    return this.release();
  }
}

export function openComputeStore(source: Database | SqlLocation): ComputeStore {
  const { db, release } = useDatabase(source);
  return new ComputeStore(db, release);
}
