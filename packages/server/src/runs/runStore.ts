import { randomBytes, randomUUID } from "node:crypto";
import { runs as api } from "@mlenv/api";
import { type Database, type SqlLocation, useDatabase } from "../store/database";
import { type Migration, migration } from "../store/migrator";
import { jsonOrNull, numOrNull, type Row, strOrNull } from "../store/rows";

/** Where a run is in its life. The last three are final. */
export type RunStatus = "queued" | "preparing" | "running" | "completed" | "failed" | "canceled";

export const FINAL_RUN_STATUSES: readonly RunStatus[] = api.FINAL_RUN_STATUSES;

/** The environment a run used, exactly (name, version, hash, definition, lock when one was given). */
export interface RunEnvironment {
  name: string;
  version: number;
  definitionHash: string;
  imageKey: string;
  definition: Record<string, unknown>;
  lock: Record<string, unknown> | null;
}

/** A file the script wrote under `./outputs`, kept in the blob store. */
export interface RunArtifact {
  /** POSIX path relative to the run's working directory, e.g. `outputs/model.json`. */
  path: string;
  digest: string;
  size: number;
}

export interface RunError {
  code: string;
  message: string;
}

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

export interface ModelRecord {
  workspaceId: string;
  name: string;
  version: number;
  /** Digest of the model's file manifest (same files: same version). */
  digest: string;
  files: RunArtifact[];
  runId: string | null;
  description: string | null;
  createdBy: string;
  createdAt: string;
}

export type ServiceStatus = "deploying" | "healthy" | "unhealthy" | "failed" | "deleted";

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

/** Runs' heartbeat column: a process renews it for runs it owns, so others can tell lost runs. */
export function runsHeartbeatMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE runs ADD COLUMN heartbeat_at TEXT;";
}

/** Runs' GPU column: JSON `{count, share, devices}` (NULL before 0011: no GPUs). */
export function runsGpusMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE runs ADD COLUMN gpus TEXT;";
}

/**
 * Runs' network column ('host' when the run asked for network access; NULL: none) and the token
 * a service's worker requires on /score (made on first use; never shown in the API).
 */
export function networkIsolationMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE runs ADD COLUMN network TEXT;\nALTER TABLE services ADD COLUMN worker_token TEXT;";
}

/** The services' deployment config column (JSON `{cpuCores, memoryGb}`; NULL before 0008). */
export function servicesDeploymentConfigMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE services ADD COLUMN deployment_config TEXT;";
}

/**
 * Which server process runs a service's workers (`owner`, a per-process id) and when it last
 * said so; a service whose owner stopped renewing is taken over by another process.
 */
export function servicesOwnerMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE services ADD COLUMN owner TEXT;\nALTER TABLE services ADD COLUMN owner_heartbeat_at TEXT;";
}

/** The services' target column (added after 0004_runs). */
export function servicesTargetMigrationSql(_backend: "sqlite" | "postgres"): string {
  return "ALTER TABLE services ADD COLUMN target TEXT NOT NULL DEFAULT 'local';";
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
  migration("0005_service_target", servicesTargetMigrationSql),
  migration("0006_run_heartbeat", runsHeartbeatMigrationSql),
  // A service's CPU/memory limits as JSON `{cpuCores, memoryGb}` (enforced on the docker target).
  migration("0008_service_deployment_config", servicesDeploymentConfigMigrationSql),
  // Services are run by one server process at a time (a lease), not by every process.
  migration("0010_service_owner", servicesOwnerMigrationSql),
  // Runs ask for GPUs and record the indices they were given (services keep theirs in deployment_config).
  migration("0014_run_gpus", runsGpusMigrationSql),
  // Runs have no network unless they ask for it; service workers require a token (issue 14 item 9).
  migration("0015_network_isolation", networkIsolationMigrationSql),
];

const now = () => new Date().toISOString();

function toRun(r: Row): RunRecord {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    experiment: String(r.experiment),
    number: Number(r.number),
    status: String(r.status) as RunStatus,
    target: String(r.target) as RunRecord["target"],
    script: String(r.script),
    arguments: jsonOrNull<string[]>(r.arguments) ?? [],
    snapshot: String(r.snapshot),
    environment: jsonOrNull<RunEnvironment>(r.environment) as RunEnvironment,
    exitCode: numOrNull(r.exit_code),
    error: jsonOrNull<RunError>(r.error),
    artifacts: jsonOrNull<RunArtifact[]>(r.artifacts) ?? [],
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
    startedAt: strOrNull(r.started_at),
    finishedAt: strOrNull(r.finished_at),
    pid: numOrNull(r.pid),
    compute: jsonOrNull<Record<string, unknown>>(r.compute),
    inputs: jsonOrNull<Record<string, unknown>[]>(r.inputs),
    gpus: { count: 0, share: false, devices: [], ...jsonOrNull<Partial<RunGpus>>(r.gpus) },
    network: r.network === "host",
  };
}

function toModel(r: Row): ModelRecord {
  return {
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    version: Number(r.version),
    digest: String(r.digest),
    files: jsonOrNull<RunArtifact[]>(r.files) ?? [],
    runId: strOrNull(r.run_id),
    description: strOrNull(r.description),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
  };
}

function toService(r: Row): ServiceRecord {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    name: String(r.name),
    status: String(r.status) as ServiceStatus,
    target: (r.target === "docker" ? "docker" : "local") as ServiceRecord["target"],
    deploymentConfig: {
      cpuCores: null,
      memoryGb: null,
      ...jsonOrNull<Partial<ServiceDeploymentConfig>>(r.deployment_config),
    },
    limitsEnforced: r.target === "docker",
    model: jsonOrNull<{ name: string; version: number }>(r.model) as { name: string; version: number },
    entryScript: String(r.entry_script),
    snapshot: String(r.snapshot),
    environment: jsonOrNull<RunEnvironment>(r.environment) as RunEnvironment,
    port: numOrNull(r.port),
    url: strOrNull(r.url),
    restarts: Number(r.restarts),
    error: jsonOrNull<RunError>(r.error),
    createdBy: String(r.created_by),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
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
export class RunStore {
  constructor(
    private readonly db: Database,
    /** Closes the handle when the store opened it for itself. */
    private readonly release: () => Promise<void> = async () => {},
  ) {}

  /** Insert a queued run with the experiment's next number (retried on a concurrent insert). */
  async createRun(input: CreateRunInput): Promise<RunRecord> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [m] = await this.db.all(
        "SELECT COALESCE(MAX(number), 0) AS n FROM runs WHERE workspace_id = ? AND experiment = ?",
        [input.workspaceId, input.experiment],
      );
      const id = randomUUID();
      try {
        await this.db.all(
          `INSERT INTO runs (id, workspace_id, experiment, number, status, target, script, arguments, snapshot,
             environment, artifacts, created_by, created_at, heartbeat_at, gpus, network) VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, '[]', ?, ?, ?, ?, ?)`,
          [
            id,
            input.workspaceId,
            input.experiment,
            Number(m?.n ?? 0) + 1,
            input.target,
            input.script,
            JSON.stringify(input.arguments),
            input.snapshot,
            JSON.stringify(input.environment),
            input.createdBy,
            now(),
            now(),
            input.gpus?.count ? JSON.stringify({ ...input.gpus, devices: [] }) : null,
            input.network ? "host" : null,
          ],
        );
      } catch (e) {
        if (this.db.isUniqueViolation(e)) continue;
        throw e;
      }
      return (await this.getRun(id)) as RunRecord;
    }
    throw new Error(`could not allocate a run number in experiment ${input.experiment}`);
  }

  async getRun(id: string): Promise<RunRecord | null> {
    const [r] = await this.db.all("SELECT * FROM runs WHERE id = ?", [id]);
    return r ? toRun(r) : null;
  }

  async listRuns(options: {
    workspaceId: string;
    experiment?: string;
    limit?: number;
  }): Promise<RunRecord[]> {
    const params: unknown[] = [options.workspaceId];
    let where = "workspace_id = ?";
    if (options.experiment !== undefined) {
      where += " AND experiment = ?";
      params.push(options.experiment);
    }
    params.push(Math.max(1, Math.min(options.limit ?? 100, 1000)));
    const rows = await this.db.all(
      `SELECT * FROM runs WHERE ${where} ORDER BY created_at DESC, id LIMIT ?`,
      params,
    );
    return rows.map(toRun);
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
    const moved = await this.db.all(
      `UPDATE runs SET status = ?,
         started_at = CASE WHEN ? = 'running' THEN ? ELSE started_at END,
         finished_at = CASE WHEN ? = 1 THEN ? ELSE finished_at END,
         exit_code = COALESCE(?, exit_code), error = COALESCE(?, error),
         artifacts = COALESCE(?, artifacts), pid = ?
       WHERE id = ? AND status NOT IN ('completed', 'failed', 'canceled') RETURNING id`,
      [
        status,
        status,
        t,
        final ? 1 : 0,
        t,
        fields.exitCode ?? null,
        fields.error ? JSON.stringify(fields.error) : null,
        fields.artifacts ? JSON.stringify(fields.artifacts) : null,
        final ? null : (fields.pid ?? null),
        id,
      ],
    );
    return moved.length > 0;
  }

  /** Record artifacts of a run that already reached a final status (cancel races the collection). */
  /** Record the GPU indices a run was given. */
  async setRunGpus(id: string, gpus: RunGpus): Promise<void> {
    await this.db.all("UPDATE runs SET gpus = ? WHERE id = ?", [JSON.stringify(gpus), id]);
  }

  async setArtifacts(id: string, artifacts: RunArtifact[]): Promise<void> {
    await this.db.all("UPDATE runs SET artifacts = ? WHERE id = ?", [JSON.stringify(artifacts), id]);
  }

  /** Renew the heartbeat of runs this process owns (queued or active). */
  async heartbeat(ids: string[], at: Date = new Date()): Promise<void> {
    if (ids.length === 0) return;
    await this.db.all(
      `UPDATE runs SET heartbeat_at = ? WHERE status IN ('queued', 'preparing', 'running') AND id IN (${ids.map(() => "?").join(", ")})`,
      [at.toISOString(), ...ids],
    );
  }

  /**
   * Fail runs that are not final and whose owner stopped renewing their heartbeat before
   * `staleBefore` (their server process died); returns their ids.
   */
  async failStale(staleBefore: Date, error: RunError): Promise<string[]> {
    const rows = await this.db.all(
      `UPDATE runs SET status = 'failed', finished_at = ?, error = ?, pid = NULL
       WHERE status IN ('queued', 'preparing', 'running') AND (heartbeat_at IS NULL OR heartbeat_at < ?)
         AND target IN ('local', 'docker') RETURNING id`,
      [now(), JSON.stringify(error), staleBefore.toISOString()],
    );
    return rows.map((r) => String(r.id));
  }

  async appendLogs(ownerId: string, lines: LogLine[]): Promise<void> {
    for (let i = 0; i < lines.length; i += 200) {
      const chunk = lines.slice(i, i + 200);
      await this.db.all(
        `INSERT INTO process_logs (owner_id, seq, stream, text) VALUES ${chunk.map(() => "(?, ?, ?, ?)").join(", ")}`,
        chunk.flatMap((l) => [ownerId, l.seq, l.stream, l.text]),
      );
    }
  }

  async logs(ownerId: string, afterSeq = 0, limit = 5000): Promise<LogLine[]> {
    const rows = await this.db.all(
      "SELECT seq, stream, text FROM process_logs WHERE owner_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      [ownerId, afterSeq, limit],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      stream: String(r.stream) as LogLine["stream"],
      text: String(r.text),
    }));
  }

  async lastLogSeq(ownerId: string): Promise<number> {
    const [r] = await this.db.all("SELECT COALESCE(MAX(seq), 0) AS n FROM process_logs WHERE owner_id = ?", [
      ownerId,
    ]);
    return Number(r?.n ?? 0);
  }

  async addMetric(runId: string, name: string, value: unknown): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [m] = await this.db.all("SELECT COALESCE(MAX(seq), 0) AS n FROM run_metrics WHERE run_id = ?", [
        runId,
      ]);
      try {
        await this.db.all("INSERT INTO run_metrics (run_id, seq, name, value, at) VALUES (?, ?, ?, ?, ?)", [
          runId,
          Number(m?.n ?? 0) + 1,
          name,
          JSON.stringify(value),
          now(),
        ]);
        return;
      } catch (e) {
        if (!this.db.isUniqueViolation(e)) throw e;
      }
    }
    throw new Error(`could not record metric ${name} of run ${runId}`);
  }

  /** Metrics in logged order; `step` counts per name from 0. */
  async metrics(runId: string): Promise<MetricRecord[]> {
    const rows = await this.db.all("SELECT name, value, at FROM run_metrics WHERE run_id = ? ORDER BY seq", [
      runId,
    ]);
    const steps = new Map<string, number>();
    return rows.map((r) => {
      const name = String(r.name);
      const step = steps.get(name) ?? 0;
      steps.set(name, step + 1);
      return { name, value: JSON.parse(String(r.value)), step, at: String(r.at) };
    });
  }

  /** Register model files: the same files under a name return the existing version. */
  async registerModel(input: {
    workspaceId: string;
    name: string;
    digest: string;
    files: RunArtifact[];
    runId: string | null;
    description: string | null;
    createdBy: string;
  }): Promise<{ created: boolean; model: ModelRecord }> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const [same] = await this.db.all(
        "SELECT * FROM models WHERE workspace_id = ? AND name = ? AND digest = ?",
        [input.workspaceId, input.name, input.digest],
      );
      if (same) return { created: false, model: toModel(same) };
      const [m] = await this.db.all(
        "SELECT COALESCE(MAX(version), 0) AS n FROM models WHERE workspace_id = ? AND name = ?",
        [input.workspaceId, input.name],
      );
      const version = Number(m?.n ?? 0) + 1;
      try {
        await this.db.all(
          `INSERT INTO models (workspace_id, name, version, digest, files, run_id, description, created_by, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            input.workspaceId,
            input.name,
            version,
            input.digest,
            JSON.stringify(input.files),
            input.runId,
            input.description,
            input.createdBy,
            now(),
          ],
        );
      } catch (e) {
        if (this.db.isUniqueViolation(e)) continue;
        throw e;
      }
      return {
        created: true,
        model: (await this.getModel(input.workspaceId, input.name, version)) as ModelRecord,
      };
    }
    throw new Error(`could not register model ${input.name}`);
  }

  /** A version, or the latest when `version` is undefined. */
  async getModel(workspaceId: string, name: string, version?: number): Promise<ModelRecord | null> {
    const rows =
      version === undefined
        ? await this.db.all(
            "SELECT * FROM models WHERE workspace_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
            [workspaceId, name],
          )
        : await this.db.all("SELECT * FROM models WHERE workspace_id = ? AND name = ? AND version = ?", [
            workspaceId,
            name,
            version,
          ]);
    return rows[0] ? toModel(rows[0]) : null;
  }

  /** The latest version of each model (or every version of one name). */
  async listModels(workspaceId: string, name?: string): Promise<ModelRecord[]> {
    const rows =
      name === undefined
        ? await this.db.all(
            `SELECT m.* FROM models m WHERE m.workspace_id = ? AND m.version =
               (SELECT MAX(version) FROM models x WHERE x.workspace_id = m.workspace_id AND x.name = m.name) ORDER BY m.name`,
            [workspaceId],
          )
        : await this.db.all("SELECT * FROM models WHERE workspace_id = ? AND name = ? ORDER BY version", [
            workspaceId,
            name,
          ]);
    return rows.map(toModel);
  }

  /** Insert a deploying service; null when a live service of that name exists. */
  /**
   * The token a service's worker requires (x-mlenv-service-token): 32 random bytes made on first
   * use and kept in the database, so every server process sharing it can score any service.
   */
  async serviceWorkerToken(id: string): Promise<string> {
    await this.db.all("UPDATE services SET worker_token = ? WHERE id = ? AND worker_token IS NULL", [
      randomBytes(32).toString("base64url"),
      id,
    ]);
    const [r] = await this.db.all("SELECT worker_token FROM services WHERE id = ?", [id]);
    if (!r?.worker_token) throw new Error(`service ${id} does not exist`);
    return String(r.worker_token);
  }

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
    const id = randomUUID();
    const t = now();
    try {
      await this.db.all(
        `INSERT INTO services (id, workspace_id, name, status, target, deployment_config, model, entry_script, snapshot,
           environment, restarts, created_by, created_at, updated_at, owner, owner_heartbeat_at)
         VALUES (?, ?, ?, 'deploying', ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)`,
        [
          id,
          input.workspaceId,
          input.name,
          input.target ?? "local",
          JSON.stringify(input.deploymentConfig ?? { cpuCores: null, memoryGb: null }),
          JSON.stringify(input.model),
          input.entryScript,
          input.snapshot,
          JSON.stringify(input.environment),
          input.createdBy,
          t,
          t,
          input.owner ?? null,
          input.owner ? t : null,
        ],
      );
    } catch (e) {
      if (this.db.isUniqueViolation(e)) return null;
      throw e;
    }
    return this.getService(id);
  }

  async getService(id: string): Promise<ServiceRecord | null> {
    const [r] = await this.db.all("SELECT * FROM services WHERE id = ?", [id]);
    return r ? toService(r) : null;
  }

  async findService(workspaceId: string, name: string): Promise<ServiceRecord | null> {
    const [r] = await this.db.all(
      "SELECT * FROM services WHERE workspace_id = ? AND name = ? AND status <> 'deleted'",
      [workspaceId, name],
    );
    return r ? toService(r) : null;
  }

  async listServices(workspaceId: string): Promise<ServiceRecord[]> {
    const rows = await this.db.all(
      "SELECT * FROM services WHERE workspace_id = ? AND status <> 'deleted' ORDER BY name",
      [workspaceId],
    );
    return rows.map(toService);
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
    const sets: string[] = ["updated_at = ?"];
    const params: unknown[] = [now()];
    if (fields.status !== undefined) {
      sets.push("status = ?");
      params.push(fields.status);
    }
    if (fields.port !== undefined) {
      sets.push("port = ?");
      params.push(fields.port);
    }
    if (fields.url !== undefined) {
      sets.push("url = ?");
      params.push(fields.url);
    }
    if (fields.restarts !== undefined) {
      sets.push("restarts = ?");
      params.push(fields.restarts);
    }
    if (fields.error !== undefined) {
      sets.push("error = ?");
      params.push(fields.error ? JSON.stringify(fields.error) : null);
    }
    params.push(id);
    if (guard) params.push(guard.owner);
    await this.db.all(
      `UPDATE services SET ${sets.join(", ")} WHERE id = ? AND status <> 'deleted'${guard ? " AND owner = ?" : ""}`,
      params,
    );
  }

  /**
   * Make `owner` the process that runs a live service, when no other process holds it: nobody
   * does, `owner` already does, or the holder's last heartbeat is older than `staleBefore`.
   * Returns the service when `owner` holds it afterwards.
   */
  async claimService(id: string, owner: string, staleBefore: Date): Promise<ServiceRecord | null> {
    const t = now();
    const [r] = await this.db.all(
      `UPDATE services SET owner = ?, owner_heartbeat_at = ?
       WHERE id = ? AND status <> 'deleted' AND status <> 'failed'
         AND (owner IS NULL OR owner = ? OR owner_heartbeat_at IS NULL OR owner_heartbeat_at < ?)
       RETURNING *`,
      [owner, t, id, owner, staleBefore.toISOString()],
    );
    return r ? toService(r) : null;
  }

  /** Renew `owner`'s hold on its services; returns the ids it still holds (live ones only). */
  async heartbeatServices(owner: string): Promise<string[]> {
    const rows = await this.db.all(
      "UPDATE services SET owner_heartbeat_at = ? WHERE owner = ? AND status <> 'deleted' RETURNING id",
      [now(), owner],
    );
    return rows.map((r) => String(r.id));
  }

  /** Give up `owner`'s services (graceful shutdown) so another process, or the next start, takes them at once. */
  async releaseServices(owner: string): Promise<void> {
    await this.db.all("UPDATE services SET owner = NULL, owner_heartbeat_at = NULL WHERE owner = ?", [owner]);
  }

  /**
   * Services that should be running and that no process holds: nobody, or a holder whose last
   * heartbeat is older than `staleBefore` (the candidates for claimService).
   */
  async unheldServices(staleBefore: Date): Promise<ServiceRecord[]> {
    const rows = await this.db.all(
      `SELECT * FROM services WHERE status <> 'deleted' AND status <> 'failed'
         AND (owner IS NULL OR owner_heartbeat_at IS NULL OR owner_heartbeat_at < ?) ORDER BY created_at`,
      [staleBefore.toISOString()],
    );
    return rows.map(toService);
  }

  close(): Promise<void> {
    return this.release();
  }
}

/** Open the run store on the server's database (run `store.migrate()` first: the tables come from its migrations). */
export function openRunStore(source: Database | SqlLocation): RunStore {
  const { db, release } = useDatabase(source);
  return new RunStore(db, release);
}
