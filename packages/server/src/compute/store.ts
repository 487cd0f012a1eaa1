import type { ColumnType, Selectable } from "kysely";
import type { RunTables } from "../runs/runStore";
import { type Database, exec, first, type SqlLocation, useDatabase } from "../store/database";
import { addDigestVersion, type DigestVersionInput } from "../store/digestVersions";
import { columnTypes, type Migration, migration } from "../store/migrator";
import { named } from "../store/rows";
import { TableStore } from "../store/tableStore";
import type { SlurmTargetSettings } from "./schemas";

/** Compute targets, the cluster jobs that run runs, datastores and their versions (migration 0011). */
export function computeMigrationSql(backend: "sqlite" | "postgres"): string {
  const { big, text } = columnTypes(backend);
  return `
CREATE TABLE compute_targets (
  workspace_id TEXT NOT NULL REFERENCES workspaces(id),
  name ${text} NOT NULL,
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
  target ${text} NOT NULL,
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
  name ${text} NOT NULL,
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
  name ${text} NOT NULL,
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

/** PostgreSQL answers BIGINT as text. */
type Big = ColumnType<number | string, number, number>;
/** A BIGINT column with a default (0). */
type Offset = ColumnType<number | string, number | undefined, number>;

/** The compute feature's tables (migration 0011), and the runs' columns it writes. JSON and times are TEXT. */
type ComputeTables = Pick<RunTables, "runs"> & {
  compute_targets: {
    workspace_id: string;
    name: string;
    kind: "slurm";
    settings: string;
    secret_name: string | null;
    created_by: string;
    created_at: string;
  };
  cluster_jobs: {
    run_id: string;
    workspace_id: string;
    target: string;
    phase: ClusterJobPhase;
    job_ids: string;
    run_dir: string;
    settings: string;
    state: string | null;
    reason: string | null;
    out_offset: Offset;
    err_offset: Offset;
    metrics_offset: Offset;
    missing_since: string | null;
    owner: string | null;
    owner_at: string | null;
    created_at: string;
  };
  datastores: {
    workspace_id: string;
    name: string;
    kind: DatastoreRecord["kind"];
    path: string | null;
    description: string | null;
    latest_version: number;
    created_by: string;
    created_at: string;
  };
  datastore_versions: {
    workspace_id: string;
    name: string;
    version: number;
    digest: string;
    files: string;
    size: Big;
    created_by: string;
    created_at: string;
  };
};

function toTarget(r: Selectable<ComputeTables["compute_targets"]>): ComputeTargetRecord {
  return {
    workspaceId: r.workspace_id,
    name: r.name,
    kind: "slurm",
    settings: JSON.parse(r.settings) as SlurmTargetSettings,
    secretName: r.secret_name,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function toJob(r: Selectable<ComputeTables["cluster_jobs"]>): ClusterJobRecord {
  return {
    runId: r.run_id,
    workspaceId: r.workspace_id,
    target: r.target,
    phase: r.phase,
    jobIds: JSON.parse(r.job_ids) as number[],
    runDir: r.run_dir,
    settings: JSON.parse(r.settings) as SlurmTargetSettings,
    state: r.state,
    reason: r.reason,
    outOffset: num(r.out_offset),
    errOffset: num(r.err_offset),
    metricsOffset: num(r.metrics_offset),
    missingSince: r.missing_since,
    owner: r.owner,
    ownerAt: r.owner_at,
  };
}

function toDatastore(r: Selectable<ComputeTables["datastores"]>): DatastoreRecord {
  return {
    workspaceId: r.workspace_id,
    name: r.name,
    kind: r.kind,
    path: r.path,
    description: r.description,
    latestVersion: num(r.latest_version),
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function toVersion(r: Selectable<ComputeTables["datastore_versions"]>): DatastoreVersionRecord {
  return {
    name: r.name,
    version: num(r.version),
    digest: r.digest,
    files: JSON.parse(r.files) as DatastoreFile[],
    size: num(r.size),
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

/** Persistence of compute targets, cluster jobs and datastores (SQLite or PostgreSQL). */
export class ComputeStore extends TableStore<ComputeTables> {
  // ---- targets -------------------------------------------------------------------------------
  /** Insert a target; null when one of that name exists. */
  async insertTarget(t: Omit<ComputeTargetRecord, "createdAt">): Promise<ComputeTargetRecord | null> {
    const r = await this.k
      .insertInto("compute_targets")
      .values({
        workspace_id: t.workspaceId,
        name: t.name,
        kind: t.kind,
        settings: JSON.stringify(t.settings),
        secret_name: t.secretName,
        created_by: t.createdBy,
        created_at: now(),
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return r ? toTarget(r) : null;
  }

  #targets(workspaceId: string) {
    return this.k.selectFrom("compute_targets").selectAll().where("workspace_id", "=", workspaceId);
  }

  async getTarget(workspaceId: string, name: string): Promise<ComputeTargetRecord | null> {
    const r = await this.#targets(workspaceId).where("name", "=", name).executeTakeFirst();
    return r ? toTarget(r) : null;
  }

  async listTargets(workspaceId: string): Promise<ComputeTargetRecord[]> {
    return (await this.#targets(workspaceId).orderBy("name").execute()).map(toTarget);
  }

  async deleteTarget(workspaceId: string, name: string): Promise<boolean> {
    const gone = await this.k
      .deleteFrom("compute_targets")
      .where((eb) => eb.and(named(workspaceId, name)))
      .returning("name")
      .execute();
    return gone.length > 0;
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
    await this.k
      .insertInto("cluster_jobs")
      .values({
        run_id: input.runId,
        workspace_id: input.workspaceId,
        target: input.target,
        phase: "preparing",
        job_ids: "[]",
        run_dir: input.runDir,
        settings: JSON.stringify(input.settings),
        owner: input.owner,
        owner_at: t,
        created_at: t,
      })
      .execute();
  }

  async getJob(runId: string): Promise<ClusterJobRecord | null> {
    const r = await this.k
      .selectFrom("cluster_jobs")
      .selectAll()
      .where("run_id", "=", runId)
      .executeTakeFirst();
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
    // undefined leaves a column as it is
    const set = {
      phase: fields.phase,
      job_ids: fields.jobIds === undefined ? undefined : JSON.stringify(fields.jobIds),
      state: fields.state,
      reason: fields.reason,
      out_offset: fields.outOffset,
      err_offset: fields.errOffset,
      metrics_offset: fields.metricsOffset,
      missing_since: fields.missingSince,
    };
    if (Object.values(set).every((v) => v === undefined)) return;
    await this.k.updateTable("cluster_jobs").set(set).where("run_id", "=", runId).execute();
  }

  /**
   * Take the cluster jobs this process follows: its own and those whose owner stopped renewing
   * before `staleBefore` (another server process died). Renews the hold of each one returned.
   */
  async claimJobs(
    owner: string,
    staleBefore: Date,
  ): Promise<{ job: ClusterJobRecord; takenOver: boolean }[]> {
    const k = this.k;
    const t = now();
    const candidates = await k
      .selectFrom("cluster_jobs")
      .select(["run_id", "owner"])
      .where("phase", "<>", "done")
      .where((eb) =>
        eb.or([
          eb("owner", "=", owner),
          eb("owner", "is", null),
          eb("owner_at", "<", staleBefore.toISOString()),
        ]),
      )
      .execute();
    const out: { job: ClusterJobRecord; takenOver: boolean }[] = [];
    for (const { run_id, owner: prev } of candidates) {
      // compare-and-set: another process may have claimed it in between
      const got = await k
        .updateTable("cluster_jobs")
        .set({ owner, owner_at: t })
        .where("run_id", "=", run_id)
        .where("phase", "<>", "done")
        .where((eb) => (prev === null ? eb("owner", "is", null) : eb("owner", "=", prev)))
        .returningAll()
        .executeTakeFirst();
      if (got) out.push({ job: toJob(got), takenOver: prev !== owner });
    }
    return out;
  }

  /** Let go of this process's jobs (a graceful shutdown: the next process takes them at once). */
  async releaseJobs(owner: string): Promise<void> {
    await this.k
      .updateTable("cluster_jobs")
      .set({ owner: null })
      .where("owner", "=", owner)
      .where("phase", "=", "submitted")
      .execute();
  }

  /** Record on the run which cluster ran it (`compute` column: kind, target, job ids, state, reason). */
  async setRunCompute(runId: string, compute: Record<string, unknown>): Promise<void> {
    await this.k
      .updateTable("runs")
      .set({ compute: JSON.stringify(compute) })
      .where("id", "=", runId)
      .execute();
  }

  async setRunInputs(runId: string, inputs: unknown[]): Promise<void> {
    await this.k
      .updateTable("runs")
      .set({ inputs: JSON.stringify(inputs) })
      .where("id", "=", runId)
      .execute();
  }

  // ---- datastores ----------------------------------------------------------------------------
  /** Insert a datastore; null when one of that name exists. */
  async insertDatastore(
    d: Omit<DatastoreRecord, "createdAt" | "latestVersion">,
  ): Promise<DatastoreRecord | null> {
    const r = await this.k
      .insertInto("datastores")
      .values({
        workspace_id: d.workspaceId,
        name: d.name,
        kind: d.kind,
        path: d.path,
        description: d.description,
        latest_version: 0,
        created_by: d.createdBy,
        created_at: now(),
      })
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return r ? toDatastore(r) : null;
  }

  #datastores(workspaceId: string) {
    return this.k.selectFrom("datastores").selectAll().where("workspace_id", "=", workspaceId);
  }

  async getDatastore(workspaceId: string, name: string): Promise<DatastoreRecord | null> {
    const r = await this.#datastores(workspaceId).where("name", "=", name).executeTakeFirst();
    return r ? toDatastore(r) : null;
  }

  async listDatastores(workspaceId: string): Promise<DatastoreRecord[]> {
    return (await this.#datastores(workspaceId).orderBy("name").execute()).map(toDatastore);
  }

  #versions(workspaceId: string, name: string) {
    return this.k
      .selectFrom("datastore_versions")
      .selectAll()
      .where((eb) => eb.and(named(workspaceId, name)));
  }

  /** Add a version of a blob datastore (same digest: the existing version, created false). */
  async addVersion(
    input: DigestVersionInput<DatastoreFile> & { size: number },
  ): Promise<{ created: boolean; version: DatastoreVersionRecord }> {
    const k = this.k;
    const same = this.#versions(input.workspaceId, input.name).where("digest", "=", input.digest);
    const datastore = this.#datastores(input.workspaceId).where("name", "=", input.name);
    // adds of one datastore queue on its lock key (across processes too): each sees the one before
    // it, so two adds of one content make one version, never a duplicate key
    return this.db.tx(function* () {
      const { created, row } = yield* addDigestVersion(input, {
        same,
        *latest() {
          return num((yield* first(datastore))?.latest_version);
        },
        insert: (row) =>
          k
            .insertInto("datastore_versions")
            .values({ ...row, size: input.size })
            .returningAll(),
      });
      if (created) {
        yield* exec(
          k
            .updateTable("datastores")
            .set({ latest_version: row.version })
            .where((eb) => eb.and(named(input.workspaceId, input.name))),
        );
      }
      return { created, version: toVersion(row) };
    }, `datastore-version:${input.workspaceId}:${input.name}`);
  }

  async getVersion(
    workspaceId: string,
    name: string,
    version: number,
  ): Promise<DatastoreVersionRecord | null> {
    const r = await this.#versions(workspaceId, name).where("version", "=", version).executeTakeFirst();
    return r ? toVersion(r) : null;
  }

  async listVersions(workspaceId: string, name: string): Promise<DatastoreVersionRecord[]> {
    return (await this.#versions(workspaceId, name).orderBy("version").execute()).map(toVersion);
  }
}

export function openComputeStore(source: Database | SqlLocation): ComputeStore {
  const { db, release } = useDatabase(source);
  return new ComputeStore(db, release);
}
