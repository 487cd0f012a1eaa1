import { randomUUID } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { chown, copyFile, lstat, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { BlobStore } from "../blobs/blobStore";
import type { ImageBuilder } from "../builds/builder";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { Logger } from "../logger";
import { recordedEnvironment } from "../runs/environments";
import { failureOf } from "../runs/errors";
import { pythonHelperDir } from "../runs/runManager";
import type { LogLine, RunArtifact, RunRecord, RunStore } from "../runs/runStore";
import { extractSnapshot, insideDir, readSnapshot } from "../runs/snapshot";
import { type Interpreter, VenvCache } from "../runs/venv";
import type { RunResources, SlurmTargetSettings } from "./schemas";
import { type ComputeService, checkCluster, listFiles, type ResolvedInput } from "./service";
import { type SlurmJob, SlurmRestError } from "./slurmRest";
import type { ClusterJobRecord } from "./store";

/** Why a run on a cluster did not complete (recorded on the run). */
export const ClusterFailureCode = {
  TIMEOUT: "E_CLUSTER_TIMEOUT",
  OUT_OF_MEMORY: "E_CLUSTER_OUT_OF_MEMORY",
  NODE_FAIL: "E_CLUSTER_NODE_FAIL",
  PREEMPTED: "E_CLUSTER_PREEMPTED",
  CANCELLED: "E_CLUSTER_CANCELLED",
  JOB_FAILED: "E_CLUSTER_JOB_FAILED",
  JOB_LOST: "E_CLUSTER_JOB_LOST",
  SCRIPT_FAILED: "E_SCRIPT_FAILED",
} as const;

type StoredSettings = SlurmTargetSettings & { secretName?: string | null };

/** What a Slurm job state means for the run: a live run status, or a final outcome. */
export function mapSlurmState(
  state: string,
  context: { oomInLog: boolean },
):
  | { live: "preparing" | "running" }
  | { final: "completed" }
  | { final: "failed" | "canceled"; code: string; what: string } {
  const s = state.toUpperCase();
  if (
    [
      "PENDING",
      "CONFIGURING",
      "REQUEUED",
      "REQUEUE_HOLD",
      "REQUEUE_FED",
      "RESV_DEL_HOLD",
      "STAGE_OUT",
    ].includes(s)
  )
    return { live: "preparing" };
  if (["RUNNING", "COMPLETING", "SUSPENDED", "SIGNALING", "STOPPED", "RESIZING"].includes(s))
    return { live: "running" };
  if (s === "COMPLETED") return { final: "completed" };
  if (s === "TIMEOUT" || s === "DEADLINE")
    return { final: "failed", code: ClusterFailureCode.TIMEOUT, what: "went over its time limit" };
  if (s === "OUT_OF_MEMORY" || context.oomInLog)
    return { final: "failed", code: ClusterFailureCode.OUT_OF_MEMORY, what: "went over its memory limit" };
  if (s === "NODE_FAIL" || s === "BOOT_FAIL")
    return { final: "failed", code: ClusterFailureCode.NODE_FAIL, what: "lost its node (node failure)" };
  if (s === "PREEMPTED")
    return { final: "failed", code: ClusterFailureCode.PREEMPTED, what: "was preempted" };
  if (s === "CANCELLED")
    return { final: "canceled", code: ClusterFailureCode.CANCELLED, what: "was cancelled on the cluster" };
  return { final: "failed", code: ClusterFailureCode.SCRIPT_FAILED, what: `ended ${s}` };
}

/** Quote a string for a POSIX shell (single quotes). Only checked paths reach the job script. */
function sq(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

export interface ClusterRunsOptions {
  service: ComputeService;
  runStore: RunStore;
  blobs: BlobStore;
  logger: Logger;
  /**
   * The base interpreter of venvs on the shared directory (default /usr/bin/python3; a target's
   * `python` overrides it): it must exist at that path on every node, so not the server's own.
   */
  python?: string;
  /** How often cluster jobs are polled (default 2000 ms); three missed polls let another process take over. */
  pollMs?: number;
  maxArtifactBytes?: number;
  /** Builds the run's image for targets that run containers (`containers: "docker"`). */
  builder?: ImageBuilder;
  preparePip?: (
    workspaceId: string,
    lines: string[],
  ) => Promise<{ lines: string[]; env: Record<string, string> }>;
}

/**
 * Runs on Slurm targets. Submission prepares the run's directory on the target's shared
 * directory and submits one batch job; after that no process of this server is tied to the run:
 * a poller (in every server process; each cluster job is held by one of them, and taken over when
 * its holder stops renewing) reads the job's state, logs, metrics and finally its outputs.
 */
export class ClusterRuns {
  readonly owner = randomUUID();
  readonly #o: ClusterRunsOptions;
  readonly #venvs = new Map<string, VenvCache>();
  readonly #pending = new Set<Promise<void>>();
  readonly #helperDir = pythonHelperDir();
  #timer: NodeJS.Timeout | null = null;
  #ticking: Promise<void> | null = null;
  #closed = false;

  constructor(options: ClusterRunsOptions) {
    this.#o = options;
  }

  get pollMs(): number {
    return this.#o.pollMs ?? 2000;
  }

  /** Whether `target` is an attached compute target of the workspace (not local/docker). */
  async isTarget(workspaceId: string, target: string): Promise<boolean> {
    return (await this.#o.service.target(workspaceId, target)) !== null;
  }

  /**
   * Check a run for a target before anything is stored: the target exists, the partition exists
   * on the cluster (a clear error, nothing queued), the datastore arguments resolve.
   */
  async check(input: { workspaceId: string; target: string; resources: RunResources }): Promise<void> {
    const t = await this.#o.service.target(input.workspaceId, input.target);
    if (!t) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected target to be local, docker or an attached compute target (see \`mlenv compute list\`); received ${preview(input.target)}`,
        { details: { setting: "target" } },
      );
    }
    const rest = await this.#o.service.client(input.workspaceId, t.settings, t.secretName);
    const partition = input.resources.partition ?? t.settings.partition;
    await checkCluster(rest, partition, input.resources.partition ? "resources.partition" : "partition");
  }

  /** Record the cluster job of a new run and prepare and submit it in the background. */
  async launch(run: RunRecord, resources: RunResources, inputs: ResolvedInput[]): Promise<void> {
    const t = await this.#o.service.target(run.workspaceId, run.target);
    if (!t) throw new Error(`compute target ${run.target} is gone`);
    const settings: StoredSettings = { ...t.settings, secretName: t.secretName };
    const runDir = join(t.settings.sharedDir, ".mlenv", "runs", run.id);
    await this.#o.service.store.createJob({
      runId: run.id,
      workspaceId: run.workspaceId,
      target: run.target,
      runDir,
      settings,
      owner: this.owner,
    });
    await this.#o.service.store.setRunCompute(run.id, {
      kind: "slurm",
      target: run.target,
      jobIds: [],
      state: null,
      reason: null,
      resources,
    });
    const p = this.#prepareAndSubmit(run, settings, runDir, resources, inputs)
      .catch((e) =>
        this.#o.logger.error("cluster submit failed", { run: run.id, error: String(e).slice(0, 500) }),
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  async #log(runId: string, lines: { stream: LogLine["stream"]; text: string }[]): Promise<void> {
    if (lines.length === 0) return;
    const start = await this.#o.runStore.lastLogSeq(runId);
    await this.#o.runStore.appendLogs(
      runId,
      lines.map((l, i) => ({
        seq: start + i + 1,
        stream: l.stream,
        text: l.text.length > 16_384 ? `${l.text.slice(0, 16_384)}…` : l.text,
      })),
    );
  }

  async #prepareAndSubmit(
    run: RunRecord,
    settings: StoredSettings,
    runDir: string,
    resources: RunResources,
    inputs: ResolvedInput[],
  ): Promise<void> {
    const store = this.#o.runStore;
    const jobs = this.#o.service.store;
    const system: string[] = [];
    const say = (t: string) => system.push(t);
    try {
      if (!(await store.setRunStatus(run.id, "preparing"))) return;
      say(
        `run ${run.experiment} #${run.number} (${run.id}) on Slurm target ${run.target} (${settings.restUrl})`,
      );
      say(
        `environment ${run.environment.name} version ${run.environment.version} (${run.environment.imageKey})`,
      );
      const { definition, lock } = recordedEnvironment(run.environment);
      const tasks = resources.nodes * resources.tasksPerNode;
      const nodePython = settings.python ?? this.#o.python ?? "/usr/bin/python3";
      let interpreter: Interpreter;
      let image: string | null = null;
      if (settings.containers === "docker") {
        // the batch step runs the entry with the node's python; the script runs in the image
        const builder = this.#o.builder;
        if (!builder) throw new Error("this server has no Docker engine to build the run's image");
        say("building or reusing the environment's image");
        const built = await builder.build({
          definition,
          ...(lock ? { lock } : {}),
          workspaceId: run.workspaceId,
          onLog: (l) => say(`build: ${l.text}`),
        });
        image = built.image;
        say(
          `image ${built.image}${built.cacheHit ? " (cached)" : ""}: the job runs it with docker on its node`,
        );
        interpreter = { python: nodePython, venvDir: null, cached: true };
      } else {
        const root = join(settings.sharedDir, ".mlenv", "envs");
        let venvs = this.#venvs.get(root);
        if (!venvs) {
          venvs = new VenvCache({ root, python: nodePython });
          this.#venvs.set(root, venvs);
        }
        const preparePip = this.#o.preparePip;
        interpreter = await venvs.materialise({
          definition,
          imageKey: run.environment.imageKey,
          lock,
          log: say,
          ...(preparePip ? { preparePip: (lines: string[]) => preparePip(run.workspaceId, lines) } : {}),
        });
      }
      await this.#log(
        run.id,
        system.splice(0).map((text) => ({ stream: "system" as const, text })),
      );
      const work = join(runDir, "work");
      await extractSnapshot(this.#o.blobs, await readSnapshot(this.#o.blobs, run.snapshot), work);
      insideDir(work, run.script);
      await mkdir(join(runDir, "helpers"), { recursive: true });
      for (const f of ["mlenv_run.py", "mlenv_slurm_entry.py"]) {
        await copyFile(join(this.#helperDir, f), join(runDir, "helpers", f));
      }
      const args = [...run.arguments];
      const recorded = [];
      const readOnly: string[] = [];
      for (const input of inputs) {
        const path = await this.#o.service.materialiseInput(run.workspaceId, input, {
          workDir: work,
          cacheRoot: join(settings.sharedDir, ".mlenv", "data"),
        });
        args[input.index] = path;
        if (input.mode === "mount") readOnly.push(path);
        recorded.push({ ...input, resolvedPath: path });
        say(
          `input ${input.datastore} (${input.mode}${input.version ? `, version ${input.version}` : ""}): ${path}`,
        );
      }
      if (recorded.length) await jobs.setRunInputs(run.id, recorded);
      const passed = {
        ...definition.environmentVariables,
        MLENV_RUN_ID: run.id,
        MLENV_EXPERIMENT: run.experiment,
        MLENV_RUN_METRICS_FILE: join(runDir, "metrics.jsonl"),
        PYTHONUNBUFFERED: "1",
      };
      const container = image
        ? {
            runtime: "docker",
            image,
            python: definition.python.userManagedDependencies ? definition.python.interpreterPath : "python",
            // tasks of a distributed run reach each other through the host's network; never a bridge
            network: tasks > 1 || run.network ? "host" : "none",
            readOnly,
            env: Object.keys(passed),
            ...(resources.memoryMb !== undefined ? { memoryMb: resources.memoryMb } : {}),
          }
        : null;
      if (container)
        say(
          `the script runs in a container of ${container.image} (${container.network === "none" ? "no network" : "host network"})`,
        );
      await writeFile(
        join(runDir, "job.json"),
        JSON.stringify({
          script: run.script,
          arguments: args,
          tasks,
          distribution: resources.distribution ?? "pytorch",
          ...(container ? { container } : {}),
        }),
      );
      await this.#chownLikeShared(settings.sharedDir, runDir);
      const cur = await store.getRun(run.id);
      if (cur?.status !== "preparing") return;
      const env: Record<string, string> = {
        PATH: `${interpreter.venvDir ? `${join(interpreter.venvDir, "bin")}:` : ""}/usr/local/bin:/usr/bin:/bin`,
        LANG: process.env.LANG ?? "C.UTF-8",
        ...passed,
        ...(interpreter.venvDir ? { VIRTUAL_ENV: interpreter.venvDir } : {}),
      };
      const script = `#!/bin/sh\nexec ${sq(interpreter.python)} -u ${sq(join(runDir, "helpers", "mlenv_slurm_entry.py"))} ${sq(runDir)}\n`;
      const job: Record<string, unknown> = {
        // the run id in the name tells this job from a later one that reuses its id (a controller
        // that lost its state numbers jobs again)
        name: `mlenv-${run.id}`,
        comment: `mlenv run ${run.experiment} #${run.number}`.slice(0, 200),
        partition: resources.partition ?? settings.partition,
        nodes: [resources.nodes, resources.nodes],
        tasks,
        tasks_per_node: resources.tasksPerNode,
        cpus_per_task: resources.cpusPerTask,
        current_working_directory: work,
        standard_output: join(runDir, "job.out"),
        standard_error: join(runDir, "job.err"),
        environment: env,
      };
      const qos = resources.qos ?? settings.qos;
      const account = resources.account ?? settings.account;
      if (qos) job.qos = qos;
      if (account) job.account = account;
      if (resources.memoryMb !== undefined) job.memory_per_node = resources.memoryMb;
      if (resources.timeLimitMinutes !== undefined) job.time_limit = resources.timeLimitMinutes;
      if (resources.gpus) job.gres = `gpu:${resources.gpus}`;
      const rest = await this.#o.service.client(run.workspaceId, settings, settings.secretName ?? null);
      const jobId = await rest.submit(script, job);
      await jobs.updateJob(run.id, { phase: "submitted", jobIds: [jobId], state: "PENDING" });
      await jobs.setRunCompute(run.id, {
        kind: "slurm",
        target: run.target,
        jobIds: [jobId],
        state: "PENDING",
        reason: null,
        resources,
      });
      say(
        `submitted Slurm job ${jobId} (partition ${job.partition}, ${tasks} task(s) on ${resources.nodes} node(s))`,
      );
      await this.#log(
        run.id,
        system.splice(0).map((text) => ({ stream: "system" as const, text })),
      );
      // a cancel that raced the submission
      if ((await store.getRun(run.id))?.status === "canceled") await rest.cancel(jobId).catch(() => {});
    } catch (e) {
      const f =
        e instanceof SlurmRestError
          ? { code: ClusterFailureCode.JOB_FAILED, message: e.message }
          : failureOf(e);
      system.push(`failed: ${f.message}`);
      await this.#log(
        run.id,
        system.map((text) => ({ stream: "system" as const, text })),
      ).catch(() => {});
      await store.setRunStatus(run.id, "failed", { error: f });
      await jobs.updateJob(run.id, { phase: "done" });
      await rm(runDir, { recursive: true, force: true }).catch(() => {});
    }
  }

  /** As root, files made for the job belong to the shared directory's owner (the cluster user). */
  async #chownLikeShared(sharedDir: string, dir: string): Promise<void> {
    if (process.getuid?.() !== 0) return;
    const { uid, gid } = await stat(sharedDir);
    if (uid === 0) return;
    const walk = async (p: string): Promise<void> => {
      const s = await lstat(p);
      if (s.isSymbolicLink()) return;
      await chown(p, uid, gid);
      if (s.isDirectory()) for (const e of await readdir(p)) await walk(join(p, e));
    };
    await walk(dir);
  }

  /** Cancel a run's cluster job (the run is already marked canceled). */
  async cancel(run: RunRecord): Promise<void> {
    const j = await this.#o.service.store.getJob(run.id);
    if (!j || j.phase === "done") return;
    const rest = await this.#o.service.client(
      j.workspaceId,
      j.settings,
      (j.settings as StoredSettings).secretName ?? null,
    );
    for (const id of j.jobIds) await rest.cancel(id);
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (!this.#ticking) this.#ticking = this.tick().finally(() => (this.#ticking = null));
    }, this.pollMs);
    this.#timer.unref();
  }

  /** One poll of every cluster job this process holds or takes over. */
  async tick(): Promise<void> {
    if (this.#closed) return;
    const stale = new Date(Date.now() - 3 * this.pollMs);
    let claimed: { job: ClusterJobRecord; takenOver: boolean }[];
    try {
      claimed = await this.#o.service.store.claimJobs(this.owner, stale);
    } catch (e) {
      this.#o.logger.warn("cluster job claim failed", { error: String(e).slice(0, 200) });
      return;
    }
    await Promise.all(
      claimed.map(({ job, takenOver }) =>
        this.#follow(job, takenOver).catch((e) =>
          this.#o.logger.warn("cluster job poll failed", { run: job.runId, error: String(e).slice(0, 300) }),
        ),
      ),
    );
  }

  async #follow(j: ClusterJobRecord, takenOver: boolean): Promise<void> {
    const store = this.#o.runStore;
    const jobs = this.#o.service.store;
    if (j.phase === "preparing") {
      // preparation runs in the process that accepted the run; another process finding it
      // stale means that process died before the job was submitted
      if (takenOver) {
        await this.#log(j.runId, [
          { stream: "system", text: "failed: the server preparing this run stopped before submitting it" },
        ]);
        await store.setRunStatus(j.runId, "failed", {
          error: {
            code: ClusterFailureCode.JOB_LOST,
            message:
              "The server process preparing this run stopped before the job was submitted; submit it again",
          },
        });
        await jobs.updateJob(j.runId, { phase: "done" });
      }
      return;
    }
    const run = await store.getRun(j.runId);
    if (!run) return;
    if (takenOver) {
      await this.#log(j.runId, [
        {
          stream: "system",
          text: `following Slurm job ${j.jobIds.join(",")} (taken over by another server process)`,
        },
      ]);
    }
    const jobId = j.jobIds[0] as number;
    const rest = await this.#o.service.client(
      j.workspaceId,
      j.settings,
      (j.settings as StoredSettings).secretName ?? null,
    );
    let info: SlurmJob | null;
    try {
      info = await rest.job(jobId);
      if (info && info.name !== `mlenv-${j.runId}`) info = null;
    } catch (e) {
      // the controller is down or restarting: keep following, say so once
      const reason = `cluster unreachable: ${String((e as Error).message).slice(0, 200)}`;
      if (j.reason !== reason) {
        await jobs.updateJob(j.runId, { reason });
        await this.#setCompute(run, j, j.state, reason);
        await this.#log(j.runId, [{ stream: "system", text: reason }]);
      }
      await this.#tail(j);
      return;
    }
    const exit = await readExit(j.runDir);
    if (!info) {
      if (exit)
        return this.#finish(run, j, exit.exitCode === 0 ? "COMPLETED" : "FAILED", "None", exit.exitCode);
      // give the controller one more poll (a job that was just submitted or a restart)
      if (!j.missingSince) {
        await jobs.updateJob(j.runId, { missingSince: new Date().toISOString() });
        return;
      }
      await this.#tail(j, true);
      await this.#log(j.runId, [{ stream: "system", text: `failed: Slurm no longer knows job ${jobId}` }]);
      await store.setRunStatus(j.runId, "failed", {
        error: {
          code: ClusterFailureCode.JOB_LOST,
          message: `Slurm no longer knows job ${jobId} (purged, or the controller lost its state) and the job left no exit status: the run is lost; submit it again`,
        },
      });
      await this.#setCompute(run, j, "LOST", "unknown to the controller");
      await jobs.updateJob(j.runId, { phase: "done", state: "LOST" });
      return;
    }
    if (j.missingSince) await jobs.updateJob(j.runId, { missingSince: null });
    const state = info.job_state;
    const reason = info.state_reason && info.state_reason !== "None" ? info.state_reason : null;
    const mapped = mapSlurmState(state, { oomInLog: false });
    if ("live" in mapped) {
      if (j.state !== state || j.reason !== reason) {
        await jobs.updateJob(j.runId, { state, reason });
        await this.#setCompute(run, j, state, reason);
        await this.#log(j.runId, [
          { stream: "system", text: `Slurm job ${jobId}: ${state}${reason ? ` (${reason})` : ""}` },
        ]);
      }
      if (mapped.live === "running" && run.status === "preparing")
        await store.setRunStatus(j.runId, "running");
      await this.#tail(j);
      return;
    }
    await this.#finish(run, j, state, reason, exit?.exitCode ?? exitOf(info.exit_code));
  }

  async #setCompute(
    run: RunRecord,
    j: ClusterJobRecord,
    state: string | null,
    reason: string | null,
  ): Promise<void> {
    const prev = (run as RunRecord & { compute?: Record<string, unknown> | null }).compute ?? {};
    await this.#o.service.store.setRunCompute(run.id, {
      ...prev,
      kind: "slurm",
      target: j.target,
      jobIds: j.jobIds,
      state,
      reason,
    });
  }

  /** Append new complete lines of the job's output files (all of them when `final`) and metrics. */
  async #tail(j: ClusterJobRecord, final = false): Promise<string[]> {
    const lines: { stream: LogLine["stream"]; text: string }[] = [];
    const out = await readFrom(join(j.runDir, "job.out"), j.outOffset, final);
    for (const t of out.lines) lines.push({ stream: "stdout", text: t });
    const err = await readFrom(join(j.runDir, "job.err"), j.errOffset, final);
    for (const t of err.lines) lines.push({ stream: "stderr", text: t });
    await this.#log(j.runId, lines);
    const m = await readFrom(join(j.runDir, "metrics.jsonl"), j.metricsOffset, final);
    for (const t of m.lines) {
      try {
        const v = JSON.parse(t) as { name?: unknown; value?: unknown };
        if (typeof v.name === "string" && v.name.length > 0 && v.name.length <= 255 && v.value !== undefined)
          await this.#o.runStore.addMetric(j.runId, v.name, v.value);
      } catch {
        // a line the script garbled: skipped
      }
    }
    await this.#o.service.store.updateJob(j.runId, {
      outOffset: out.offset,
      errOffset: err.offset,
      metricsOffset: m.offset,
    });
    j.outOffset = out.offset;
    j.errOffset = err.offset;
    j.metricsOffset = m.offset;
    return err.lines;
  }

  async #finish(
    run: RunRecord,
    j: ClusterJobRecord,
    state: string,
    reason: string | null,
    exitCode: number | null,
  ) {
    const store = this.#o.runStore;
    const errLines = await this.#tail(j, true);
    const errTail = await readTail(join(j.runDir, "job.err"));
    const oomInLog =
      /exceeded (job )?memory limit/i.test(errTail) ||
      errLines.some((l) => /exceeded (job )?memory limit/i.test(l));
    const mapped = mapSlurmState(state, { oomInLog: state !== "COMPLETED" && oomInLog });
    const artifacts = await this.#collect(j);
    const jobId = j.jobIds[0];
    await this.#setCompute(run, j, state, reason);
    if ("final" in mapped && mapped.final === "completed") {
      await this.#log(j.runId, [{ stream: "system", text: `Slurm job ${jobId} COMPLETED` }]);
      await store.setRunStatus(j.runId, "completed", { exitCode: 0, artifacts });
    } else if ("final" in mapped) {
      const m = mapped as { final: "failed" | "canceled"; code: string; what: string };
      const tail = (await this.#o.runStore.logs(j.runId, Math.max(0, (await store.lastLogSeq(j.runId)) - 5)))
        .map((l) => l.text)
        .join(" | ")
        .slice(-500);
      const message =
        m.code === ClusterFailureCode.SCRIPT_FAILED
          ? `The script ${run.script} exited with code ${exitCode ?? "?"} (Slurm job ${jobId} ${state}${reason ? `, ${reason}` : ""}); last output: ${tail}`
          : `Slurm job ${jobId} ${m.what} (state ${state}${reason ? `, reason ${reason}` : ""}); last output: ${tail}`;
      await this.#log(j.runId, [{ stream: "system", text: `Slurm job ${jobId} ${state}: ${m.what}` }]);
      const moved = await store.setRunStatus(j.runId, m.final, {
        exitCode,
        artifacts,
        error: { code: m.code, message },
      });
      if (!moved) await store.setArtifacts(j.runId, artifacts);
    }
    await this.#o.service.store.updateJob(j.runId, { phase: "done", state, reason });
    await rm(j.runDir, { recursive: true, force: true }).catch(() => {});
  }

  async #collect(j: ClusterJobRecord): Promise<RunArtifact[]> {
    const work = join(j.runDir, "work");
    const files = await listFiles(join(work, "outputs"), work);
    const max = this.#o.maxArtifactBytes ?? 500 * 1024 * 1024;
    const out: RunArtifact[] = [];
    let total = 0;
    for (const f of files) {
      if (total + f.size > max) continue;
      total += f.size;
      out.push({
        path: f.path,
        digest: await this.#o.blobs.put(new Uint8Array(await readFile(f.full))),
        size: f.size,
      });
    }
    if (out.length)
      await this.#log(j.runId, [
        { stream: "system", text: `kept ${out.length} output file(s), ${total} bytes` },
      ]);
    return out;
  }

  /** Stop polling; this process's jobs are let go so another process takes them over at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await Promise.race([Promise.all([...this.#pending]), new Promise((r) => setTimeout(r, 5000).unref())]);
    await this.#ticking;
    await this.#o.service.store.releaseJobs(this.owner).catch(() => {});
  }
}

function exitOf(code: number): number | null {
  // slurmrestd gives the wait status: the exit code in the high byte, a signal in the low bits
  if (!Number.isFinite(code)) return null;
  return code > 255 ? code >> 8 : code;
}

async function readExit(runDir: string): Promise<{ exitCode: number } | null> {
  try {
    const v = JSON.parse(await readFile(join(runDir, "exit.json"), "utf8")) as { exitCode?: unknown };
    return typeof v.exitCode === "number" ? { exitCode: v.exitCode } : null;
  } catch {
    return null;
  }
}

/** The complete lines of a file from `offset` (with `final`, a trailing partial line too). */
async function readFrom(
  file: string,
  offset: number,
  final: boolean,
): Promise<{ lines: string[]; offset: number }> {
  if (!existsSync(file)) return { lines: [], offset };
  const size = (await stat(file)).size;
  if (size <= offset) return { lines: [], offset };
  const end = Math.min(size, offset + 8 * 1024 * 1024);
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    createReadStream(file, { start: offset, end: end - 1 })
      .on("data", (c) => chunks.push(c as Buffer))
      .on("end", () => resolve())
      .on("error", reject);
  });
  const buf = Buffer.concat(chunks);
  const lastNl = buf.lastIndexOf(0x0a);
  const take = final && end === size ? buf.length : lastNl + 1;
  if (take <= 0) return { lines: [], offset };
  const text = buf.subarray(0, take).toString("utf8").replace(/\n$/, "");
  return { lines: text.split("\n").map((l) => l.replace(/\r$/, "")), offset: offset + take };
}

async function readTail(file: string): Promise<string> {
  try {
    const b = await readFile(file);
    return b.subarray(Math.max(0, b.length - 16_384)).toString("utf8");
  } catch {
    return "";
  }
}
