import { randomBytes, randomUUID } from "node:crypto";
import { runs as api, type common, type models, type services } from "@mlenv/api";
import { type Selectable, sql, type Updateable } from "kysely";
import type { z } from "zod";
import { type Database, exec, first, type SqlLocation, useDatabase } from "../store/database";
import { addDigestVersion, type DigestVersionInput } from "../store/digestVersions";
import { type Migration, migration } from "../store/migrator";
import { jsonOrNull, named, numOrNull } from "../store/rows";
import { TableStore } from "../store/tableStore";

/** Where a run is in its life. The last three are final. */
export type RunStatus = z.infer<typeof api.RunStatusSchema>;

export const FINAL_RUN_STATUSES: readonly RunStatus[] = api.FINAL_RUN_STATUSES;

/** The environment a run used, exactly (name, version, hash, definition, lock when one was given). */
export type RunEnvironment = z.infer<typeof api.RunEnvironmentSchema>;

/** A file the script wrote under `./outputs` (a POSIX path relative to the run's directory), kept in the blob store. */
export type RunArtifact = z.infer<typeof common.ArtifactSchema>;

export type RunError = NonNullable<z.infer<typeof common.RunErrorSchema>>;

export interface RunRecord {
  id: string;
  workspaceId: string;
  experiment: string;
  /** Per-experiment run number (1, 2, ...). */
  number: number;
  status: RunStatus;
  /** `local`, `docker` or the name of an attached compute target (e.g. a Slurm cluster). */
  target: string;
  script: string;
  arguments: string[];
  snapshot: string;
  environment: RunEnvironment;
  exitCode: number | null;
  error: RunError | null;
  artifacts: RunArtifact[];
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Process id of the script while it runs on this machine. */
  pid: number | null;
  /** On a compute target: `{kind, target, jobIds, state, reason, resources}` (null on local/docker). */
  compute: Record<string, unknown> | null;
  /** The datastore arguments the run read, with the version of each (null when none). */
  inputs: Record<string, unknown>[] | null;
  /** GPUs asked for (`count`, exclusively unless `share`) and the indices given once it started. */
  gpus: RunGpus;
  /** Whether the run asked for network access (`network: true`); without it local and docker runs have none. */
  network: boolean;
}

/** A run's GPUs: asked for, and the indices (nvidia-smi's) it was given. */
export interface RunGpus {
  count: number;
  share: boolean;
  devices: number[];
}

export interface LogLine {
  /** 1-based, increasing per owner. */
  seq: number;
  stream: "stdout" | "stderr" | "system";
  text: string;
}

export interface MetricRecord {
  name: string;
  value: unknown;
  step: number;
  at: string;
}

/** A model version as the API shows it, and the workspace it belongs to. */
export type ModelRecord = z.infer<typeof models.ModelSchema> & { workspaceId: string };

export type ServiceStatus = z.infer<typeof services.ServiceStatusSchema>;

export interface ServiceDeploymentConfig {
  cpuCores: number | null;
  memoryGb: number | null;
  /** GPUs the service's worker holds while it runs (0: none). */
  gpus?: number;
  /** Whether those GPUs may also be given to other runs/services that share. */
  shareGpus?: boolean;
}

export interface ServiceRecord {
  id: string;
  workspaceId: string;
  name: string;
  status: ServiceStatus;
  /** `local`: a venv worker; `docker`: a host-network container of the environment's image. */
  target: "local" | "docker";
  /** CPU cores and memory (GB) asked for at deploy time; null when not asked. */
  deploymentConfig: ServiceDeploymentConfig;
  /** Whether the target enforces `deploymentConfig` (docker: yes; local: recorded only). */
  limitsEnforced: boolean;
  model: { name: string; version: number };
  entryScript: string;
  snapshot: string;
  environment: RunEnvironment;
  port: number | null;
  url: string | null;
  restarts: number;
  error: RunError | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

/** Tables of runs, their logs and metrics, models and web services (the store's migration list applies it). */
export function runsMigrationSql(_backend: "sqlite" | "postgres"): string {
  // JSON as TEXT and ISO-8601 timestamps as TEXT serve both backends unchanged.
  return `
CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  experiment TEXT NOT NULL,
  number INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'preparing', 'running', 'completed', 'failed', 'canceled')),
  target TEXT NOT NULL,
  script TEXT NOT NULL,
  arguments TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  environment TEXT NOT NULL,
  exit_code INTEGER,
  error TEXT,
  artifacts TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  pid INTEGER,
  UNIQUE (workspace_id, experiment, number)
);
CREATE INDEX runs_workspace ON runs(workspace_id, created_at);
CREATE TABLE process_logs (
  owner_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  stream TEXT NOT NULL,
  text TEXT NOT NULL,
  PRIMARY KEY (owner_id, seq)
);
CREATE TABLE run_metrics (
  run_id TEXT NOT NULL REFERENCES runs(id),
  seq INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  at TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
CREATE TABLE models (
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  digest TEXT NOT NULL,
  files TEXT NOT NULL,
  run_id TEXT,
  description TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (workspace_id, name, version),
  UNIQUE (workspace_id, name, digest)
);
CREATE TABLE services (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  name TEXT NOT NULL,
  status TEXT NOT NULL,
  model TEXT NOT NULL,
  entry_script TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  environment TEXT NOT NULL,
  port INTEGER,
  url TEXT,
  restarts INTEGER NOT NULL,
  error TEXT,
  created_by TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX services_one_live_name ON services(workspace_id, name) WHERE status <> 'deleted';
`;
}

/** The runs feature's migrations: runs, logs, metrics, models and services. */
export const runMigrations: readonly Migration[] = [
  migration("0004_runs", runsMigrationSql),
  // The services' target column (added after 0004_runs).
  migration("0005_service_target", "ALTER TABLE services ADD COLUMN target TEXT NOT NULL DEFAULT 'local';"),
  // Runs' heartbeat column: a process renews it for runs it owns, so others can tell lost runs.
  migration("0006_run_heartbeat", "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;"),
  // A service's CPU/memory limits as JSON `{cpuCores, memoryGb}` (enforced on the docker target;
  // NULL before 0008).
  migration("0008_service_deployment_config", "ALTER TABLE services ADD COLUMN deployment_config TEXT;"),
  // Services are run by one server process at a time (a lease), not by every process: which
  // process runs a service's workers (`owner`, a per-process id) and when it last said so; a
  // service whose owner stopped renewing is taken over by another process.
  migration(
    "0010_service_owner",
    "ALTER TABLE services ADD COLUMN owner TEXT;\nALTER TABLE services ADD COLUMN owner_heartbeat_at TEXT;",
  ),
  // Runs ask for GPUs and record the indices they were given (services keep theirs in
  // deployment_config): JSON `{count, share, devices}` (NULL before 0014: no GPUs).
  migration("0014_run_gpus", "ALTER TABLE runs ADD COLUMN gpus TEXT;"),
  // Runs have no network unless they ask for it ('host' when the run asked for network access;
  // NULL: none); service workers require a token on /score (made on first use; never shown in
  // the API) (issue 14 item 9).
  migration(
    "0015_network_isolation",
    "ALTER TABLE runs ADD COLUMN network TEXT;\nALTER TABLE services ADD COLUMN worker_token TEXT;",
  ),
];

const now = () => new Date().toISOString();

/** The runs feature's tables (migrations 0004-0015; `compute` and `inputs` from 0011). JSON and times are TEXT. */
export type RunTables = {
  runs: {
    id: string;
    workspace_id: string;
    experiment: string;
    number: number;
    status: RunStatus;
    target: string;
    script: string;
    arguments: string;
    snapshot: string;
    environment: string;
    exit_code: number | null;
    error: string | null;
    artifacts: string;
    created_by: string;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    pid: number | null;
    heartbeat_at: string | null;
    gpus: string | null;
    network: string | null;
    compute: string | null;
    inputs: string | null;
  };
  process_logs: { owner_id: string; seq: number; stream: LogLine["stream"]; text: string };
  run_metrics: { run_id: string; seq: number; name: string; value: string; at: string };
  models: {
    workspace_id: string;
    name: string;
    version: number;
    digest: string;
    files: string;
    run_id: string | null;
    description: string | null;
    created_by: string;
    created_at: string;
  };
  services: {
    id: string;
    workspace_id: string;
    name: string;
    status: ServiceStatus;
    target: string;
    deployment_config: string | null;
    model: string;
    entry_script: string;
    snapshot: string;
    environment: string;
    port: number | null;
    url: string | null;
    restarts: number;
    error: string | null;
    created_by: string;
    created_at: string;
    updated_at: string;
    owner: string | null;
    owner_heartbeat_at: string | null;
    worker_token: string | null;
  };
};

type RunRow = Selectable<RunTables["runs"]>;
type ModelRow = Selectable<RunTables["models"]>;
type ServiceRow = Selectable<RunTables["services"]>;

const ACTIVE_RUN: RunStatus[] = ["queued", "preparing", "running"];
const json = (v: unknown): string => JSON.stringify(v);
const jsonOr = <T>(v: T | null | undefined): string | null | undefined =>
  v === undefined ? undefined : v === null ? null : JSON.stringify(v);

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    experiment: r.experiment,
    number: Number(r.number),
    status: r.status,
    target: r.target,
    script: r.script,
    arguments: jsonOrNull<string[]>(r.arguments) ?? [],
    snapshot: r.snapshot,
    environment: jsonOrNull<RunEnvironment>(r.environment) as RunEnvironment,
    exitCode: numOrNull(r.exit_code),
    error: jsonOrNull<RunError>(r.error),
    artifacts: jsonOrNull<RunArtifact[]>(r.artifacts) ?? [],
    createdBy: r.created_by,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    pid: numOrNull(r.pid),
    compute: jsonOrNull<Record<string, unknown>>(r.compute),
    inputs: jsonOrNull<Record<string, unknown>[]>(r.inputs),
    gpus: { count: 0, share: false, devices: [], ...jsonOrNull<Partial<RunGpus>>(r.gpus) },
    network: r.network === "host",
  };
}

function toModel(r: ModelRow): ModelRecord {
  return {
    workspaceId: r.workspace_id,
    name: r.name,
    version: Number(r.version),
    digest: r.digest,
    files: jsonOrNull<RunArtifact[]>(r.files) ?? [],
    runId: r.run_id,
    description: r.description,
    createdBy: r.created_by,
    createdAt: r.created_at,
  };
}

function toService(r: ServiceRow): ServiceRecord {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    status: r.status,
    target: r.target === "docker" ? "docker" : "local",
    deploymentConfig: {
      cpuCores: null,
      memoryGb: null,
      ...jsonOrNull<Partial<ServiceDeploymentConfig>>(r.deployment_config),
    },
    limitsEnforced: r.target === "docker",
    model: jsonOrNull<{ name: string; version: number }>(r.model) as { name: string; version: number },
    entryScript: r.entry_script,
    snapshot: r.snapshot,
    environment: jsonOrNull<RunEnvironment>(r.environment) as RunEnvironment,
    port: numOrNull(r.port),
    url: r.url,
    restarts: Number(r.restarts),
    error: jsonOrNull<RunError>(r.error),
    createdBy: r.created_by,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export interface CreateRunInput {
  workspaceId: string;
  experiment: string;
  target: RunRecord["target"];
  script: string;
  arguments: string[];
  snapshot: string;
  environment: RunEnvironment;
  createdBy: string;
  gpus?: { count: number; share: boolean };
  /** Give the run network access (host networking on docker, no network namespace on local). */
  network?: boolean;
}

/** Persistence of runs, logs, metrics, models and services (SQLite or PostgreSQL, same schema). */
export class RunStore extends TableStore<RunTables> {
  /**
   * Run an insert that takes the next number of a sequence in the statement itself; a concurrent
   * insert (another PostgreSQL client) that took the same number makes it retry.
   */
  async #nextNumbered<T>(what: string, insert: () => Promise<T>): Promise<T> {
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        return await insert();
      } catch (e) {
        if (!this.db.isUniqueViolation(e)) throw e;
      }
    }
    throw new Error(`could not allocate ${what}`);
  }

  /** Insert a queued run with the experiment's next number (retried on a concurrent insert). */
  createRun(input: CreateRunInput): Promise<RunRecord> {
    const k = this.k;
    return this.#nextNumbered(`a run number in experiment ${input.experiment}`, async () => {
      const t = now();
      const r = await k
        .insertInto("runs")
        .values((eb) => ({
          id: randomUUID(),
          workspace_id: input.workspaceId,
          experiment: input.experiment,
          number: eb
            .selectFrom("runs")
            .select(sql<number>`COALESCE(MAX(number), 0) + 1`.as("n"))
            .where("workspace_id", "=", input.workspaceId)
            .where("experiment", "=", input.experiment),
          status: "queued",
          target: input.target,
          script: input.script,
          arguments: json(input.arguments),
          snapshot: input.snapshot,
          environment: json(input.environment),
          artifacts: "[]",
          created_by: input.createdBy,
          created_at: t,
          heartbeat_at: t,
          gpus: input.gpus?.count ? json({ ...input.gpus, devices: [] }) : null,
          network: input.network ? "host" : null,
        }))
        .returningAll()
        .executeTakeFirstOrThrow();
      return toRun(r);
    });
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const r = await this.k.selectFrom("runs").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toRun(r) : null;
  }

  async listRuns(options: {
    workspaceId: string;
    experiment?: string;
    limit?: number;
  }): Promise<RunRecord[]> {
    const { experiment } = options;
    const found = await this.k
      .selectFrom("runs")
      .selectAll()
      .where("workspace_id", "=", options.workspaceId)
      .$if(experiment !== undefined, (q) => q.where("experiment", "=", experiment ?? ""))
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(Math.max(1, Math.min(options.limit ?? 100, 1000)))
      .execute();
    return found.map(toRun);
  }

  /** Move a run that is not final to `status`; false when it is already final (e.g. canceled). */
  async setRunStatus(
    id: string,
    status: RunStatus,
    fields: {
      exitCode?: number | null;
      error?: RunError | null;
      artifacts?: RunArtifact[];
      pid?: number | null;
    } = {},
  ): Promise<boolean> {
    const final = FINAL_RUN_STATUSES.includes(status);
    const t = now();
    const moved = await this.k
      .updateTable("runs")
      .set({
        status,
        // undefined leaves a column as it is
        started_at: status === "running" ? t : undefined,
        finished_at: final ? t : undefined,
        exit_code: fields.exitCode ?? undefined,
        error: fields.error ? json(fields.error) : undefined,
        artifacts: fields.artifacts ? json(fields.artifacts) : undefined,
        pid: final ? null : (fields.pid ?? null),
      })
      .where("id", "=", id)
      .where("status", "not in", FINAL_RUN_STATUSES)
      .returning("id")
      .execute();
    return moved.length > 0;
  }

  #setRun(id: string, set: Updateable<RunTables["runs"]>): Promise<unknown> {
    return this.k.updateTable("runs").set(set).where("id", "=", id).execute();
  }

  /** Record the GPU indices a run was given. */
  async setRunGpus(id: string, gpus: RunGpus): Promise<void> {
    await this.#setRun(id, { gpus: json(gpus) });
  }

  /** Record artifacts of a run that already reached a final status (cancel races the collection). */
  async setArtifacts(id: string, artifacts: RunArtifact[]): Promise<void> {
    await this.#setRun(id, { artifacts: json(artifacts) });
  }

  /** Renew the heartbeat of runs this process owns (queued or active). */
  async heartbeat(ids: string[], at: Date = new Date()): Promise<void> {
    if (ids.length === 0) return;
    await this.k
      .updateTable("runs")
      .set({ heartbeat_at: at.toISOString() })
      .where("status", "in", ACTIVE_RUN)
      .where("id", "in", ids)
      .execute();
  }

  /**
   * Fail runs that are not final and whose owner stopped renewing their heartbeat before
   * `staleBefore` (their server process died); returns their ids.
   */
  async failStale(staleBefore: Date, error: RunError): Promise<string[]> {
    const found = await this.k
      .updateTable("runs")
      .set({ status: "failed", finished_at: now(), error: json(error), pid: null })
      .where("status", "in", ACTIVE_RUN)
      .where((eb) =>
        eb.or([eb("heartbeat_at", "is", null), eb("heartbeat_at", "<", staleBefore.toISOString())]),
      )
      .where("target", "in", ["local", "docker"])
      .returning("id")
      .execute();
    return found.map((r) => r.id);
  }

  async appendLogs(ownerId: string, lines: LogLine[]): Promise<void> {
    for (let i = 0; i < lines.length; i += 200) {
      const chunk = lines.slice(i, i + 200);
      await this.k
        .insertInto("process_logs")
        .values(chunk.map((l) => ({ owner_id: ownerId, seq: l.seq, stream: l.stream, text: l.text })))
        .execute();
    }
  }

  async logs(ownerId: string, afterSeq = 0, limit = 5000): Promise<LogLine[]> {
    const found = await this.k
      .selectFrom("process_logs")
      .select(["seq", "stream", "text"])
      .where("owner_id", "=", ownerId)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .limit(limit)
      .execute();
    return found.map((r) => ({ seq: Number(r.seq), stream: r.stream, text: r.text }));
  }

  async lastLogSeq(ownerId: string): Promise<number> {
    const r = await this.k
      .selectFrom("process_logs")
      .select(sql<number>`COALESCE(MAX(seq), 0)`.as("n"))
      .where("owner_id", "=", ownerId)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async addMetric(runId: string, name: string, value: unknown): Promise<void> {
    const k = this.k;
    await this.#nextNumbered(`a sequence number for metric ${name} of run ${runId}`, () =>
      k
        .insertInto("run_metrics")
        .values((eb) => ({
          run_id: runId,
          seq: eb
            .selectFrom("run_metrics")
            .select(sql<number>`COALESCE(MAX(seq), 0) + 1`.as("n"))
            .where("run_id", "=", runId),
          name,
          value: json(value),
          at: now(),
        }))
        .execute(),
    );
  }

  /** Metrics in logged order; `step` counts per name from 0. */
  async metrics(runId: string): Promise<MetricRecord[]> {
    const found = await this.k
      .selectFrom("run_metrics")
      .select(["name", "value", "at"])
      .where("run_id", "=", runId)
      .orderBy("seq")
      .execute();
    const steps = new Map<string, number>();
    return found.map((r) => {
      const step = steps.get(r.name) ?? 0;
      steps.set(r.name, step + 1);
      return { name: r.name, value: JSON.parse(r.value), step, at: r.at };
    });
  }

  #models(workspaceId: string, name: string) {
    return this.k
      .selectFrom("models")
      .selectAll()
      .where((eb) => eb.and(named(workspaceId, name)));
  }

  /** Register model files: the same files under a name return the existing version. */
  async registerModel(
    input: DigestVersionInput<RunArtifact> & { runId: string | null; description: string | null },
  ): Promise<{ created: boolean; model: ModelRecord }> {
    const k = this.k;
    const versions = this.#models(input.workspaceId, input.name);
    // One writer per model name at a time (PostgreSQL: an advisory lock; SQLite: its write lock).
    return this.db.tx(function* () {
      const { created, row } = yield* addDigestVersion(input, {
        same: versions.where("digest", "=", input.digest),
        *latest() {
          const r = yield* first(
            versions.clearSelect().select(sql<number>`COALESCE(MAX(version), 0)`.as("n")),
          );
          return Number(r?.n ?? 0);
        },
        insert: (row) =>
          k
            .insertInto("models")
            .values({ ...row, run_id: input.runId, description: input.description })
            .returningAll(),
      });
      return { created, model: toModel(row) };
    }, `models:${input.workspaceId}:${input.name}`);
  }

  /** A version, or the latest when `version` is undefined. */
  async getModel(workspaceId: string, name: string, version?: number): Promise<ModelRecord | null> {
    const r = await this.#models(workspaceId, name)
      .$if(version === undefined, (q) => q.orderBy("version", "desc").limit(1))
      .$if(version !== undefined, (q) => q.where("version", "=", version ?? 0))
      .executeTakeFirst();
    return r ? toModel(r) : null;
  }

  /** The latest version of each model (or every version of one name). */
  async listModels(workspaceId: string, name?: string): Promise<ModelRecord[]> {
    const found =
      name === undefined
        ? await this.k
            .selectFrom("models as m")
            .selectAll("m")
            .where("m.workspace_id", "=", workspaceId)
            .where("m.version", "=", (eb) =>
              eb
                .selectFrom("models as x")
                .select((x) => x.fn.max("x.version").as("v"))
                .whereRef("x.workspace_id", "=", "m.workspace_id")
                .whereRef("x.name", "=", "m.name"),
            )
            .orderBy("m.name")
            .execute()
        : await this.#models(workspaceId, name).orderBy("version").execute();
    return found.map(toModel);
  }

  /**
   * The token a service's worker requires (x-mlenv-service-token): 32 random bytes made on first
   * use and kept in the database, so every server process sharing it can score any service.
   */
  async serviceWorkerToken(id: string): Promise<string> {
    const k = this.k;
    const r = await this.db.tx(function* () {
      yield* exec(
        k
          .updateTable("services")
          .set({ worker_token: randomBytes(32).toString("base64url") })
          .where("id", "=", id)
          .where("worker_token", "is", null),
      );
      return yield* first(k.selectFrom("services").select("worker_token").where("id", "=", id));
    });
    if (!r?.worker_token) throw new Error(`service ${id} does not exist`);
    return r.worker_token;
  }

  /** Insert a deploying service; null when a live service of that name exists. */
  async createService(input: {
    workspaceId: string;
    name: string;
    target?: ServiceRecord["target"];
    deploymentConfig?: ServiceDeploymentConfig;
    model: { name: string; version: number };
    entryScript: string;
    snapshot: string;
    environment: RunEnvironment;
    createdBy: string;
    /** The server process that runs it from the start (see claimService). */
    owner?: string;
  }): Promise<ServiceRecord | null> {
    const t = now();
    const r = await this.k
      .insertInto("services")
      .values({
        id: randomUUID(),
        workspace_id: input.workspaceId,
        name: input.name,
        status: "deploying",
        target: input.target ?? "local",
        deployment_config: json(input.deploymentConfig ?? { cpuCores: null, memoryGb: null }),
        model: json(input.model),
        entry_script: input.entryScript,
        snapshot: input.snapshot,
        environment: json(input.environment),
        restarts: 0,
        created_by: input.createdBy,
        created_at: t,
        updated_at: t,
        owner: input.owner ?? null,
        owner_heartbeat_at: input.owner ? t : null,
      })
      // a live service of that name holds the partial unique index: no row
      .onConflict((oc) => oc.doNothing())
      .returningAll()
      .executeTakeFirst();
    return r ? toService(r) : null;
  }

  #liveServices() {
    return this.k.selectFrom("services").selectAll().where("status", "<>", "deleted");
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const r = await this.k.selectFrom("services").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toService(r) : null;
  }

  async findService(workspaceId: string, name: string): Promise<ServiceRecord | null> {
    const r = await this.#liveServices()
      .where((eb) => eb.and(named(workspaceId, name)))
      .executeTakeFirst();
    return r ? toService(r) : null;
  }

  async listServices(workspaceId: string): Promise<ServiceRecord[]> {
    const found = await this.#liveServices()
      .where("workspace_id", "=", workspaceId)
      .orderBy("name")
      .execute();
    return found.map(toService);
  }

  async updateService(
    id: string,
    fields: {
      status?: ServiceStatus;
      port?: number;
      url?: string;
      restarts?: number;
      error?: RunError | null;
    },
    /** Only while this process holds the service (a process that lost it writes nothing). */
    guard?: { owner: string },
  ): Promise<void> {
    await this.k
      .updateTable("services")
      .set({
        updated_at: now(),
        status: fields.status,
        port: fields.port,
        url: fields.url,
        restarts: fields.restarts,
        error: jsonOr(fields.error),
      })
      .where("id", "=", id)
      .where("status", "<>", "deleted")
      .$if(guard !== undefined, (q) => q.where("owner", "=", guard?.owner ?? ""))
      .execute();
  }

  /**
   * Make `owner` the process that runs a live service, when no other process holds it: nobody
   * does, `owner` already does, or the holder's last heartbeat is older than `staleBefore`.
   * Returns the service when `owner` holds it afterwards.
   */
  async claimService(id: string, owner: string, staleBefore: Date): Promise<ServiceRecord | null> {
    const r = await this.k
      .updateTable("services")
      .set({ owner, owner_heartbeat_at: now() })
      .where("id", "=", id)
      .where("status", "not in", ["deleted", "failed"])
      .where((eb) =>
        eb.or([
          eb("owner", "is", null),
          eb("owner", "=", owner),
          eb("owner_heartbeat_at", "is", null),
          eb("owner_heartbeat_at", "<", staleBefore.toISOString()),
        ]),
      )
      .returningAll()
      .executeTakeFirst();
    return r ? toService(r) : null;
  }

  /** Renew `owner`'s hold on its services; returns the ids it still holds (live ones only). */
  async heartbeatServices(owner: string): Promise<string[]> {
    const found = await this.k
      .updateTable("services")
      .set({ owner_heartbeat_at: now() })
      .where("owner", "=", owner)
      .where("status", "<>", "deleted")
      .returning("id")
      .execute();
    return found.map((r) => r.id);
  }

  /** Give up `owner`'s services (graceful shutdown) so another process, or the next start, takes them at once. */
  async releaseServices(owner: string): Promise<void> {
    await this.k
      .updateTable("services")
      .set({ owner: null, owner_heartbeat_at: null })
      .where("owner", "=", owner)
      .execute();
  }

  /**
   * Services that should be running and that no process holds: nobody, or a holder whose last
   * heartbeat is older than `staleBefore` (the candidates for claimService).
   */
  async unheldServices(staleBefore: Date): Promise<ServiceRecord[]> {
    const found = await this.#liveServices()
      .where("status", "<>", "failed")
      .where((eb) =>
        eb.or([
          eb("owner", "is", null),
          eb("owner_heartbeat_at", "is", null),
          eb("owner_heartbeat_at", "<", staleBefore.toISOString()),
        ]),
      )
      .orderBy("created_at")
      .execute();
    return found.map(toService);
  }
}

/** Open the run store on the server's database (run `store.migrate()` first: the tables come from its migrations). */
export function openRunStore(source: Database | SqlLocation): RunStore {
  const { db, release } = useDatabase(source);
  return new RunStore(db, release);
}
