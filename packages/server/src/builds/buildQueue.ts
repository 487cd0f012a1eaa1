import { EventEmitter } from "node:events";
import { builds as api } from "@mlenv/api";
import {
  type EnvironmentDefinition,
  type Lock,
  LockSchema,
  parseDefinition,
  toReferenceJson,
} from "@mlenv/core";
import { type BuildLogLine, isDockerError } from "../docker/index";
import type { ImageBuilder } from "./builder";
import { BuildError, BuildErrorCode } from "./errors";
import type { BuildJob, BuildJobError, BuildJobStore, BuildLogRecord } from "./jobStore";

export interface BuildQueueOptions {
  jobs: BuildJobStore;
  builder: ImageBuilder;
  /** Builds running at once in this process (default 2). */
  concurrency?: number;
  /** A build running longer fails with E_BUILD_TIMEOUT, its log kept (default 30 min). */
  timeoutMs?: number;
  /** Log bytes kept per job; later lines are dropped after one notice (default 16 MiB). */
  maxLogBytes?: number;
  /** How often to look for queued jobs and stale ones (default 1000 ms). */
  pollMs?: number;
  /** How often running jobs are marked alive (default 5000 ms). */
  heartbeatMs?: number;
  /** A running job whose heartbeat is older than this is failed as interrupted (default 30 s). */
  staleMs?: number;
  /**
   * This process is the only builder on the database (default true): on start, every job left
   * `running` by an earlier process is failed as interrupted at once instead of after `staleMs`.
   */
  exclusive?: boolean;
}

export interface SubmitBuildInput {
  definition: EnvironmentDefinition;
  lock?: Lock;
  /** Build from scratch: no image cache, no engine layer cache. */
  rebuild?: boolean;
  workspaceId?: string;
  /** Recorded with the job, e.g. `{ environment: "name", version: 3 }`. */
  context?: Record<string, unknown>;
}

/** What a follower of a job sees: its log lines as they arrive, then its final state. */
export type BuildEvent = { type: "log"; line: BuildLogRecord } | { type: "end"; job: BuildJob };

interface Running {
  controller: AbortController;
  reason: "cancel" | "timeout" | "shutdown" | null;
  pending: BuildLogRecord[];
  seq: number;
  bytes: number;
  truncated: boolean;
  flushing: Promise<void>;
}

/**
 * A persistent build queue: jobs live in the database (a restart loses none), run at most
 * `concurrency` at a time, coalesce by image key (one active job per key, across processes),
 * can be cancelled, fail after a timeout with their log kept, and stream their logs.
 */
export class BuildQueue {
  readonly #jobs: BuildJobStore;
  readonly #builder: ImageBuilder;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #maxLogBytes: number;
  readonly #pollMs: number;
  readonly #heartbeatMs: number;
  readonly #staleMs: number;
  readonly #exclusive: boolean;
  readonly #running = new Map<string, Running>();
  readonly #events = new EventEmitter();
  readonly #finished = new Set<Promise<void>>();
  #timers: NodeJS.Timeout[] = [];
  #pumping = false;
  #pumpAgain = false;
  #closed = false;
  /** Only a started queue runs jobs; one that is never started only submits, follows and cancels. */
  #started = false;

  constructor(options: BuildQueueOptions) {
    this.#jobs = options.jobs;
    this.#builder = options.builder;
    this.#concurrency = Math.max(1, options.concurrency ?? 2);
    this.#timeoutMs = options.timeoutMs ?? 30 * 60_000;
    this.#maxLogBytes = options.maxLogBytes ?? 16 * 1024 * 1024;
    this.#pollMs = options.pollMs ?? 1000;
    this.#heartbeatMs = options.heartbeatMs ?? 5000;
    this.#staleMs = options.staleMs ?? 30_000;
    this.#exclusive = options.exclusive ?? true;
    this.#events.setMaxListeners(0);
  }

  /** Recover from an earlier process and start taking jobs. */
  async start(): Promise<void> {
    const interrupted: BuildJobError = {
      code: BuildErrorCode.INTERRUPTED,
      message: "the server stopped while this build was running; submit it again",
    };
    await this.#jobs.failStale(
      this.#exclusive ? new Date(Date.now() + 1000) : this.#staleBefore(),
      interrupted,
    );
    this.#timers.push(
      setInterval(() => {
        void this.#jobs.failStale(this.#staleBefore(), interrupted).catch(() => {});
        this.#pump();
      }, this.#pollMs),
      setInterval(() => void this.#heartbeat(), this.#heartbeatMs),
    );
    for (const t of this.#timers) t.unref();
    this.#started = true;
    this.#pump();
  }

  #staleBefore(): Date {
    return new Date(Date.now() - this.#staleMs);
  }

  /**
   * Queue a build of a definition, or join the active job of the same image key
   * (`coalesced: true`).
   */
  async submit(input: SubmitBuildInput): Promise<{ job: BuildJob; coalesced: boolean }> {
    if (this.#closed) throw new BuildError(BuildErrorCode.CLOSED, "the build queue is closed");
    // keyed with the workspace's private inputs (if any): jobs coalesce only within a workspace
    const { imageKey, image } = await this.#builder.keyFor(input.definition, input.lock, input.workspaceId);
    const { job, created } = await this.#jobs.enqueue({
      workspaceId: input.workspaceId ?? "default",
      imageKey,
      image,
      request: {
        definition: toReferenceJson(input.definition),
        ...(input.lock ? { lock: input.lock } : {}),
        ...(input.rebuild ? { rebuild: true } : {}),
      },
      ...(input.context ? { context: input.context } : {}),
    });
    if (created) this.#pump();
    return { job, coalesced: !created };
  }

  async get(id: string): Promise<BuildJob> {
    const job = await this.#jobs.get(id);
    if (!job)
      throw new BuildError(
        BuildErrorCode.NOT_FOUND,
        `no build job with id ${JSON.stringify(id).slice(0, 80)}`,
      );
    return job;
  }

  /** The stored log lines of a job after line `afterSeq`. */
  logs(id: string, afterSeq = 0): Promise<BuildLogRecord[]> {
    return this.#jobs.logs(id, afterSeq);
  }

  /** Cancel a queued or running job; resolves with its state afterwards. */
  async cancel(id: string): Promise<BuildJob> {
    const job = await this.get(id);
    if (api.isFinalBuildStatus(job.status)) return job;
    const running = this.#running.get(id);
    if (running) {
      running.reason = "cancel";
      running.controller.abort(new BuildError(BuildErrorCode.CANCELLED, "the build was cancelled"));
      await this.wait(id);
    } else {
      // queued, or running in another process (which sees the status at its next heartbeat)
      await this.#jobs.finish(id, "canceled", {
        error: { code: BuildErrorCode.CANCELLED, message: "the build was cancelled" },
      });
      this.#events.emit(`end:${id}`);
    }
    return this.get(id);
  }

  /** Resolves with the job once it is final. */
  async wait(id: string, options: { signal?: AbortSignal } = {}): Promise<BuildJob> {
    for (;;) {
      const job = await this.get(id);
      if (api.isFinalBuildStatus(job.status)) return job;
      await this.#nextChange(id, options.signal);
      if (options.signal?.aborted)
        throw new BuildError(BuildErrorCode.CANCELLED, "stopped waiting for the build");
    }
  }

  /**
   * The job's log from line `afterSeq + 1` (what is stored so far, then live lines), ending with
   * the final job. Works for jobs running in other processes too (by polling the database).
   */
  async *follow(
    id: string,
    options: { afterSeq?: number; signal?: AbortSignal } = {},
  ): AsyncGenerator<BuildEvent> {
    let seq = options.afterSeq ?? 0;
    for (;;) {
      const job = await this.get(id);
      const lines = await this.#jobs.logs(id, seq);
      for (const line of lines) {
        seq = line.seq;
        yield { type: "log", line };
      }
      if (api.isFinalBuildStatus(job.status)) {
        const rest = await this.#jobs.logs(id, seq);
        for (const line of rest) {
          seq = line.seq;
          yield { type: "log", line };
        }
        yield { type: "end", job };
        return;
      }
      if (options.signal?.aborted) return;
      await this.#nextChange(id, options.signal);
    }
  }

  /** Stop taking jobs; running builds are aborted and failed as interrupted. */
  async close(options: { abandon?: boolean } = {}): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    for (const r of this.#running.values()) {
      r.reason = "shutdown";
      r.controller.abort(new BuildError(BuildErrorCode.INTERRUPTED, "the server is shutting down"));
    }
    if (!options.abandon) await Promise.all(this.#finished);
  }

  #nextChange(id: string, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#events.off(`log:${id}`, done);
        this.#events.off(`end:${id}`, done);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(this.#pollMs, 250));
      this.#events.once(`log:${id}`, done);
      this.#events.once(`end:${id}`, done);
      signal?.addEventListener("abort", done, { once: true });
    });
  }

  async #heartbeat(): Promise<void> {
    const ids = [...this.#running.keys()];
    if (ids.length === 0) return;
    await this.#jobs.heartbeat(ids).catch(() => {});
    // A job cancelled by another process is no longer `running` in the database: stop it here.
    for (const id of ids) {
      const job = await this.#jobs.get(id).catch(() => null);
      const r = this.#running.get(id);
      if (job && r && job.status !== "running") {
        r.reason = "cancel";
        r.controller.abort(new BuildError(BuildErrorCode.CANCELLED, "the build was cancelled"));
      }
    }
  }

  #pump(): void {
    if (this.#closed || !this.#started) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    void (async () => {
      try {
        do {
          this.#pumpAgain = false;
          while (!this.#closed && this.#running.size < this.#concurrency) {
            const job = await this.#jobs.claimNext();
            if (!job) break;
            this.#launch(job);
          }
        } while (this.#pumpAgain);
      } catch {
        // the database is unreachable for now; the poll timer tries again
      } finally {
        this.#pumping = false;
      }
    })();
  }

  #launch(job: BuildJob): void {
    const r: Running = {
      controller: new AbortController(),
      reason: null,
      pending: [],
      seq: 0,
      bytes: 0,
      truncated: false,
      flushing: Promise.resolve(),
    };
    this.#running.set(job.id, r);
    const timer = setTimeout(() => {
      r.reason = "timeout";
      r.controller.abort(
        new BuildError(BuildErrorCode.TIMEOUT, `the build ran longer than ${this.#timeoutMs} ms`),
      );
    }, this.#timeoutMs);
    const flushTimer = setInterval(() => this.#flush(job.id, r), 200);
    const finished = this.#execute(job, r)
      .catch(() => {})
      .finally(() => {
        clearTimeout(timer);
        clearInterval(flushTimer);
        this.#running.delete(job.id);
        this.#finished.delete(finished);
        this.#events.emit(`end:${job.id}`);
        this.#pump();
      });
    this.#finished.add(finished);
  }

  #log(r: Running, id: string, line: BuildLogLine): void {
    if (r.truncated && line.step !== null) return;
    r.bytes += line.text.length + 1;
    if (r.bytes > this.#maxLogBytes && line.step !== null) {
      r.truncated = true;
      r.pending.push({
        seq: ++r.seq,
        step: line.step,
        text: `[mlenv: log truncated at ${this.#maxLogBytes} bytes]`,
      });
      return;
    }
    r.pending.push({ seq: ++r.seq, step: line.step, text: line.text });
    if (r.pending.length >= 500) this.#flush(id, r);
  }

  #flush(id: string, r: Running): Promise<void> {
    if (r.pending.length === 0) return r.flushing;
    const batch = r.pending;
    r.pending = [];
    r.flushing = r.flushing
      .then(() => this.#jobs.appendLogs(id, batch))
      .then(() => {
        this.#events.emit(`log:${id}`);
      })
      .catch(() => {});
    return r.flushing;
  }

  async #execute(job: BuildJob, r: Running): Promise<void> {
    const request = job.request as { definition: unknown; lock?: unknown; rebuild?: unknown };
    let status: "succeeded" | "failed" | "canceled" = "failed";
    let fields: Parameters<BuildJobStore["finish"]>[2];
    try {
      const definition = parseDefinition(request.definition as Record<string, unknown>);
      const lock = request.lock === undefined ? undefined : LockSchema.parse(request.lock);
      this.#log(r, job.id, { step: null, text: `build job ${job.id}: image ${job.image}` });
      const result = await this.#builder.build({
        ...(request.rebuild === true ? { rebuild: true } : {}),
        definition,
        ...(lock ? { lock } : {}),
        workspaceId: job.workspaceId,
        // built as the job recorded it, whichever process queued it
        recorded: { imageKey: job.imageKey, image: job.image },
        signal: r.controller.signal,
        onLog: (line) => this.#log(r, job.id, line),
      });
      status = "succeeded";
      fields = {
        outcome: {
          image: result.image,
          imageId: result.imageId,
          digest: result.digest,
          cacheHit: result.cacheHit,
          source: result.source,
          steps: result.steps,
          dockerfile: result.dockerfile,
          durationMs: Math.round(result.durationMs),
        },
      };
      this.#log(r, job.id, {
        step: null,
        text: result.cacheHit
          ? `done: cache hit (${result.source})`
          : `done: built ${result.imageId}, digest ${result.digest ?? "(not pushed)"}`,
      });
    } catch (e) {
      const error = describeFailure(e, r.reason, this.#timeoutMs);
      status = r.reason === "cancel" ? "canceled" : "failed";
      fields = { error };
      this.#log(r, job.id, { step: null, text: `${status}: ${error.message}` });
    }
    await this.#flush(job.id, r);
    await this.#jobs.finish(job.id, status, fields);
  }
}

function describeFailure(e: unknown, reason: Running["reason"], timeoutMs: number): BuildJobError {
  if (reason === "timeout") {
    return { code: BuildErrorCode.TIMEOUT, message: `the build ran longer than its ${timeoutMs} ms limit` };
  }
  if (reason === "cancel") return { code: BuildErrorCode.CANCELLED, message: "the build was cancelled" };
  if (reason === "shutdown") {
    return { code: BuildErrorCode.INTERRUPTED, message: "the server shut down while this build was running" };
  }
  const err = e as { code?: unknown; message?: unknown; step?: BuildJobError["step"] };
  return {
    code: typeof err.code === "string" ? err.code : BuildErrorCode.FAILED,
    message: typeof err.message === "string" ? err.message : String(e),
    ...(isDockerError(e) && err.step ? { step: err.step } : {}),
  };
}
