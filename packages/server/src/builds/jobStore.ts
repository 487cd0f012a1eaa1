import { randomUUID } from "node:crypto";
import { type ColumnType, sql } from "kysely";
import { workspaceView } from "../http/view";
import { type Database, exec, type SqlLocation, useDatabase } from "../store/database";
import { type Migration, migration } from "../store/migrator";
import { jsonOrNull, type Row, strOrNull } from "../store/rows";
import { TableStore } from "../store/tableStore";

/** Where a build job is in its life. `queued` and `running` are active; the rest are final. */
export type BuildJobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled";

/** The table spells the canceled state `cancelled` (its CHECK names it); the API says `canceled`. */
type StoredStatus = Exclude<BuildJobStatus, "canceled"> | "cancelled";
const stored = (s: BuildJobStatus): StoredStatus => (s === "canceled" ? "cancelled" : s);

/** What a finished job produced (the builder's result without its log). */
export interface BuildJobOutcome {
  image: string;
  imageId: string | null;
  digest: string | null;
  cacheHit: boolean;
  source: "built" | "local" | "registry";
  steps: { index: number; instruction: string; cached: boolean }[];
  dockerfile: string | null;
  durationMs: number;
}

/** Why a job failed: the error's code and message, and for a failed step its number and output. */
export interface BuildJobError {
  code: string;
  message: string;
  step?: { index: number | null; total: number | null; instruction: string | null; output: string };
}

export interface BuildJob {
  id: string;
  workspaceId: string;
  imageKey: string;
  image: string;
  status: BuildJobStatus;
  /** The definition (and lock) as JSON, exactly as submitted. */
  request: unknown;
  /** Free-form caller context, e.g. `{ environment: "name", version: 3 }`. */
  context: Record<string, unknown>;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  heartbeatAt: string | null;
  outcome: BuildJobOutcome | null;
  error: BuildJobError | null;
}

export interface BuildLogRecord {
  /** 1-based, increasing per job: the SSE event id. */
  seq: number;
  step: number | null;
  text: string;
}

/** Persistence of build jobs and their logs (SQLite or PostgreSQL, same schema). */
export interface BuildJobStore {
  /**
   * Insert a queued job unless an active job for the same image key exists: then that job is
   * returned with `created: false` (the database's partial unique index decides, across processes).
   */
  enqueue(input: {
    workspaceId: string;
    imageKey: string;
    image: string;
    request: unknown;
    context?: Record<string, unknown>;
  }): Promise<{ job: BuildJob; created: boolean }>;
  get(id: string): Promise<BuildJob | null>;
  /** The active job of an image key, if any. */
  /** The queued or running job of a key (in `workspaceId`: jobs never coalesce across workspaces). */
  activeFor(imageKey: string, workspaceId?: string): Promise<BuildJob | null>;
  list(options?: { workspaceId?: string; status?: BuildJobStatus[]; limit?: number }): Promise<BuildJob[]>;
  /** Atomically move the oldest queued job to running; null when none is queued. */
  claimNext(): Promise<BuildJob | null>;
  heartbeat(ids: string[]): Promise<void>;
  /** Move an active job to a final status (no-op when it is already final); true when it moved. */
  finish(
    id: string,
    status: "succeeded" | "failed" | "canceled",
    fields: { outcome?: BuildJobOutcome; error?: BuildJobError },
  ): Promise<boolean>;
  /** Fail running jobs whose heartbeat is older than `staleBefore` (their server died). */
  failStale(staleBefore: Date, error: BuildJobError): Promise<string[]>;
  appendLogs(id: string, lines: BuildLogRecord[]): Promise<void>;
  logs(id: string, afterSeq?: number): Promise<BuildLogRecord[]>;
  close(): Promise<void>;
}

/** The `build_jobs` and `build_logs` tables; applied by the store's migration list. */
export function buildsMigrationSql(_backend: "sqlite" | "postgres"): string {
  // The same SQL serves both: JSON is kept as TEXT, timestamps as ISO-8601 TEXT (they sort).
  return `
CREATE TABLE build_jobs (
  id TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL,
  image_key TEXT NOT NULL,
  image TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  request TEXT NOT NULL,
  context TEXT NOT NULL,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT,
  heartbeat_at TEXT,
  outcome TEXT,
  error TEXT
);
CREATE UNIQUE INDEX build_jobs_one_active_per_key ON build_jobs(image_key) WHERE status IN ('queued', 'running');
CREATE INDEX build_jobs_status ON build_jobs(status, created_at);
CREATE INDEX build_jobs_workspace ON build_jobs(workspace_id, created_at);
CREATE TABLE build_logs (
  job_id TEXT NOT NULL REFERENCES build_jobs(id),
  seq INTEGER NOT NULL,
  step INTEGER,
  text TEXT NOT NULL,
  PRIMARY KEY (job_id, seq)
);
`;
}

/**
 * Strict FIFO for the build queue: `enqueue_seq` numbers jobs in enqueue order (created_at has
 * millisecond resolution, and ties used to fall back to the random id). Jobs enqueued before
 * this migration are numbered by (created_at, id).
 */
export function buildsQueueOrderMigrationSql(_backend: "sqlite" | "postgres"): string {
  return `
ALTER TABLE build_jobs ADD COLUMN enqueue_seq BIGINT;
UPDATE build_jobs SET enqueue_seq = s.n
FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, id) AS n FROM build_jobs) s
WHERE s.id = build_jobs.id;
CREATE INDEX build_jobs_queue ON build_jobs(status, enqueue_seq);
CREATE INDEX build_jobs_enqueue_seq ON build_jobs(enqueue_seq);
`;
}

/**
 * One active job per image key per workspace (was: per key): a job is its workspace's (another
 * workspace gets 404 for it), so a build in workspace B never joins A's.
 */
export function buildsPerWorkspaceMigrationSql(_backend: "sqlite" | "postgres"): string {
  return `
DROP INDEX build_jobs_one_active_per_key;
CREATE UNIQUE INDEX build_jobs_one_active_per_workspace_key ON build_jobs(workspace_id, image_key) WHERE status IN ('queued', 'running');
`;
}

/** The builds feature's migrations (applied by the server's one migrator). */
export const buildMigrations: readonly Migration[] = [
  migration("0003_builds", buildsMigrationSql),
  // Build jobs are claimed in enqueue order, not (created_at, random id).
  migration("0009_build_queue_order", buildsQueueOrderMigrationSql),
  // Build jobs coalesce within a workspace only (one active job per workspace and image key).
  migration("0013_build_jobs_per_workspace", buildsPerWorkspaceMigrationSql),
];

/** A job as the API shows it: no submitted request body, no internal workspace id. */
export function jobView(job: BuildJob): Omit<BuildJob, "request" | "workspaceId"> {
  const { request: _request, ...rest } = workspaceView(job);
  return rest;
}

function toJob(r: Row): BuildJob {
  return {
    id: String(r.id),
    workspaceId: String(r.workspace_id),
    imageKey: String(r.image_key),
    image: String(r.image),
    status: (r.status === "cancelled" ? "canceled" : String(r.status)) as BuildJobStatus,
    request: jsonOrNull(r.request),
    context: jsonOrNull<Record<string, unknown>>(r.context) ?? {},
    createdAt: String(r.created_at),
    startedAt: strOrNull(r.started_at),
    finishedAt: strOrNull(r.finished_at),
    heartbeatAt: strOrNull(r.heartbeat_at),
    outcome: jsonOrNull<BuildJobOutcome>(r.outcome),
    error: jsonOrNull<BuildJobError>(r.error),
  };
}

const now = () => new Date().toISOString();

/** The builds feature's tables (migrations 0003, 0009 and 0013). JSON and times are TEXT. */
type BuildTables = {
  build_jobs: {
    id: string;
    workspace_id: string;
    image_key: string;
    image: string;
    status: StoredStatus;
    request: string;
    context: string;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    heartbeat_at: string | null;
    outcome: string | null;
    error: string | null;
    enqueue_seq: ColumnType<number | string | null, number, number>;
  };
  build_logs: { job_id: string; seq: number; step: number | null; text: string };
};

const ACTIVE: StoredStatus[] = ["queued", "running"];

class SqlBuildJobStore extends TableStore<BuildTables> implements BuildJobStore {
  async enqueue(
    input: Parameters<BuildJobStore["enqueue"]>[0],
  ): Promise<{ job: BuildJob; created: boolean }> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const existing = await this.activeFor(input.imageKey, input.workspaceId);
      if (existing) return { job: existing, created: false };
      const id = randomUUID();
      try {
        await this.k
          .insertInto("build_jobs")
          .values((eb) => ({
            id,
            workspace_id: input.workspaceId,
            image_key: input.imageKey,
            image: input.image,
            status: "queued",
            request: JSON.stringify(input.request),
            context: JSON.stringify(input.context ?? {}),
            created_at: now(),
            // the next queue number is taken in the insert itself (one statement: no gap for
            // another SQLite writer; concurrent PostgreSQL inserts may share a number, and then
            // fall back to created_at order)
            enqueue_seq: eb
              .selectFrom("build_jobs")
              .select(sql<number>`COALESCE(MAX(enqueue_seq), 0) + 1`.as("n")),
          }))
          .execute();
      } catch (e) {
        if (this.db.isUniqueViolation(e)) continue; // another request won the race: join its job
        throw e;
      }
      return { job: (await this.get(id)) as BuildJob, created: true };
    }
    throw new Error(`could not enqueue or find an active build for ${input.imageKey}`);
  }

  async get(id: string): Promise<BuildJob | null> {
    const r = await this.k.selectFrom("build_jobs").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? toJob(r) : null;
  }

  async activeFor(imageKey: string, workspaceId?: string): Promise<BuildJob | null> {
    const r = await this.k
      .selectFrom("build_jobs")
      .selectAll()
      .where("image_key", "=", imageKey)
      .$if(workspaceId !== undefined, (q) => q.where("workspace_id", "=", workspaceId ?? ""))
      .where("status", "in", ACTIVE)
      .executeTakeFirst();
    return r ? toJob(r) : null;
  }

  async list(
    options: { workspaceId?: string; status?: BuildJobStatus[]; limit?: number } = {},
  ): Promise<BuildJob[]> {
    const { workspaceId, status } = options;
    const found = await this.k
      .selectFrom("build_jobs")
      .selectAll()
      .$if(workspaceId !== undefined, (q) => q.where("workspace_id", "=", workspaceId ?? ""))
      .$if(!!status?.length, (q) => q.where("status", "in", (status ?? []).map(stored)))
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(Math.max(1, Math.min(options.limit ?? 100, 1000)))
      .execute();
    return found.map(toJob);
  }

  async claimNext(): Promise<BuildJob | null> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await this.k
        .selectFrom("build_jobs")
        .select("id")
        .where("status", "=", "queued")
        // a job without a number (inserted by an older server sharing the database) sorts
        // by its time, after the numbered ones on both backends
        .orderBy(sql`(enqueue_seq IS NULL)`)
        .orderBy("enqueue_seq")
        .orderBy("created_at")
        .orderBy("id")
        .limit(1)
        .executeTakeFirst();
      if (!r) return null;
      const t = now();
      const moved = await this.k
        .updateTable("build_jobs")
        .set({ status: "running", started_at: t, heartbeat_at: t })
        .where("id", "=", r.id)
        .where("status", "=", "queued")
        .returningAll()
        .executeTakeFirst();
      if (moved) return toJob(moved);
    }
    return null;
  }

  async heartbeat(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.k
      .updateTable("build_jobs")
      .set({ heartbeat_at: now() })
      .where("status", "=", "running")
      .where("id", "in", ids)
      .execute();
  }

  async finish(
    id: string,
    status: "succeeded" | "failed" | "canceled",
    fields: { outcome?: BuildJobOutcome; error?: BuildJobError },
  ): Promise<boolean> {
    const moved = await this.k
      .updateTable("build_jobs")
      .set({
        status: stored(status),
        finished_at: now(),
        outcome: fields.outcome ? JSON.stringify(fields.outcome) : null,
        error: fields.error ? JSON.stringify(fields.error) : null,
      })
      .where("id", "=", id)
      .where("status", "in", ACTIVE)
      .returning("id")
      .execute();
    return moved.length > 0;
  }

  async failStale(staleBefore: Date, error: BuildJobError): Promise<string[]> {
    const failed = await this.k
      .updateTable("build_jobs")
      .set({ status: "failed", finished_at: now(), error: JSON.stringify(error) })
      .where("status", "=", "running")
      .where((eb) =>
        eb.or([eb("heartbeat_at", "is", null), eb("heartbeat_at", "<", staleBefore.toISOString())]),
      )
      .returning("id")
      .execute();
    return failed.map((r) => r.id);
  }

  async appendLogs(id: string, lines: BuildLogRecord[]): Promise<void> {
    if (lines.length === 0) return;
    const k = this.k;
    await this.db.tx(function* () {
      for (let i = 0; i < lines.length; i += 200) {
        const chunk = lines.slice(i, i + 200);
        yield* exec(
          k
            .insertInto("build_logs")
            .values(chunk.map((l) => ({ job_id: id, seq: l.seq, step: l.step, text: l.text }))),
        );
      }
    });
  }

  async logs(id: string, afterSeq = 0): Promise<BuildLogRecord[]> {
    const found = await this.k
      .selectFrom("build_logs")
      .select(["seq", "step", "text"])
      .where("job_id", "=", id)
      .where("seq", ">", afterSeq)
      .orderBy("seq")
      .execute();
    return found.map((r) => ({
      seq: Number(r.seq),
      step: r.step === null || r.step === undefined ? null : Number(r.step),
      text: String(r.text),
    }));
  }
}

/**
 * Open the build job store on the server's database (the tables come from the store's
 * migrations, so run `store.migrate()` first).
 */
export function openBuildJobStore(source: Database | SqlLocation): BuildJobStore {
  const { db, release } = useDatabase(source);
  return new SqlBuildJobStore(db, release);
}
