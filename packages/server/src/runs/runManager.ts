import { randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { mkdir, open, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlobStore } from "../blobs/blobStore";
import type { ImageBuilder } from "../builds/builder";
import type { DatastoreArgument, RunResources } from "../compute/schemas";
import type { ComputeService, ResolvedInput } from "../compute/service";
import type { ClusterRuns } from "../compute/slurmRuns";
import type { DockerClient } from "../docker/client";
import type { Registry } from "../environments/registry";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { GpuRequest } from "../gpus/allocator";
import { cudaVisibleDevices } from "../gpus/allocator";
import { checkGpusAvailable, type Gpus } from "../gpus/gpus";
import type { Logger } from "../logger";
import { dockerRun } from "./dockerTarget";
import { type CodeSubmission, recordedEnvironment, resolveRunEnvironment } from "./environments";
import { failureOf, RunFailure, RunFailureCode } from "./errors";
import type { LocalSandbox } from "./localSandbox";
import { LogWriter } from "./logWriter";
import { outputFiles } from "./outputFiles";
import { type SpawnedProcess, spawnLogged, stopTree } from "./process";
import type { RunArtifact, RunRecord, RunStore } from "./runStore";
import { checkRelativePath, extractSnapshot, insideDir, readSnapshot } from "./snapshot";
import type { VenvCache } from "./venv";

/** The folder holding `mlenv_run.py` and `mlenv_serve.py` (from src/runs or from dist). */
export function pythonHelperDir(): string {
  const candidates = [
    fileURLToPath(new URL("../../python", import.meta.url)),
    fileURLToPath(new URL("../python", import.meta.url)),
  ];
  const found = candidates.find((d) => existsSync(join(d, "mlenv_run.py")));
  if (!found) throw new Error(`mlenv_run.py not found in ${candidates.join(" or ")}`);
  return found;
}

/**
 * Read a file user code wrote, at most `max` bytes: null unless it is a plain file with a single
 * link (owned by `account` when given), opened without following a final link.
 */
async function readOwnFile(
  path: string,
  account: number | null,
  max: number,
): Promise<Uint8Array | null | "too-large"> {
  let fh: import("node:fs/promises").FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.nlink !== 1 || (account !== null && st.uid !== account)) return null;
    if (st.size > max) return "too-large";
    const bytes = await fh.readFile();
    return bytes.length > max ? "too-large" : new Uint8Array(bytes);
  } finally {
    await fh.close();
  }
}

/**
 * The site-packages of a conda environment: a python copied from the machine (Debian's, which
 * only looks in dist-packages) does not find them by itself when run as a workspace account.
 */
export function condaSitePackages(prefix: string | null): string[] {
  if (!prefix || !existsSync(join(prefix, "conda-meta"))) return [];
  try {
    return readdirSync(join(prefix, "lib"))
      .filter((d) => /^python3\.\d+$/.test(d))
      .map((d) => join(prefix, "lib", d, "site-packages"))
      .filter((d) => existsSync(d));
  } catch {
    return [];
  }
}

/** A minimal environment for user code: never the server's own variables (tokens, database URLs). */
export function childEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const k of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "SYSTEMROOT"]) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return { ...env, PYTHONUNBUFFERED: "1", ...extra };
}

export interface SubmitRunInput extends CodeSubmission {
  experiment: string;
  script: string;
  /** Strings, or datastore arguments resolved per target (`{datastore, mode}`). */
  arguments: (string | DatastoreArgument)[];
  /** `local`, `docker` or an attached compute target. */
  target: string;
  /** Resources on a compute target (nodes, tasks, memory, time...). */
  resources?: RunResources;
  /** GPUs the run needs (default none): it waits queued until that many are free. */
  gpus?: GpuRequest;
  /**
   * Network access for the run's code (default false: none). Docker runs get the host's network
   * instead of none; local runs keep the server's instead of an empty network namespace.
   */
  network?: boolean;
}

/** What the run manager and the service manager both need to prepare and execute user code. */
export interface ExecutionOptions {
  store: RunStore;
  blobs: BlobStore;
  registry: Registry;
  venvs: VenvCache;
  /** Working directories of active runs and live services: `<workDir>/<run or service id>`. */
  workDir: string;
  logger: Logger;
  /**
   * The docker target: environment images from the builder; runs in containers (no network
   * unless asked), service workers in host-network containers (the server must reach their port;
   * the worker's token keeps other callers out).
   */
  docker?: { builder: ImageBuilder; client: DockerClient } | undefined;
  /** Prepare a pip block for a workspace (signed wheel URLs, secrets). */
  preparePip?: (
    workspaceId: string,
    lines: string[],
  ) => Promise<{ lines: string[]; env: Record<string, string> }>;
  /** How user code on the local target is confined, and its process groups recorded. */
  sandbox: LocalSandbox;
  /** Labels of every container (which data dir and process own it: a restart removes orphans). */
  containerLabels?: Record<string, string>;
  /** This machine's GPUs (shared by runs and services); without it, asking for GPUs fails. */
  gpus?: Gpus | undefined;
}

export interface RunManagerOptions extends ExecutionOptions {
  /** How often this process renews its runs' heartbeats (default 10 s); 3 missed beats fail a run. */
  heartbeatMs?: number;
  /** Runs executing at once (default 2); more wait Queued. */
  concurrency?: number;
  /** Largest total size of ./outputs kept as artifacts (default 500 MiB). */
  maxArtifactBytes?: number;
  /** Compute targets and datastores (src/compute): cluster runs and datastore arguments. */
  compute?: { service: ComputeService; cluster: ClusterRuns } | undefined;
}

interface Active {
  token: string;
  process: SpawnedProcess | null;
  cancel: boolean;
  /** The docker target's container while it exists. */
  container: string | null;
  /** Outputs the docker target's entry uploaded. */
  outputs: RunArtifact[] | null;
}

/**
 * Executes runs on this machine: queued → preparing (venv, snapshot) → running → a final status,
 * with output, metrics (a loopback callback the shipped `mlenv_run` helper posts to) and artifacts.
 */
export class RunManager {
  readonly #o: RunManagerOptions;
  readonly #active = new Map<string, Active>();
  readonly #queue: string[] = [];
  /** GPUs asked for by queued runs, and those given to starting/active runs. */
  readonly #gpuWants = new Map<string, GpuRequest>();
  readonly #gpuGiven = new Map<string, number[]>();
  /** Queued runs told they wait for GPUs (once each). */
  readonly #gpuWaiting = new Set<string>();
  #running = 0;
  readonly #executions = new Set<Promise<void>>();
  #callback: Server | null = null;
  /** The unix socket of the callback (reachable without network; bind-mounted into containers). */
  #callbackSocket = "";
  #closed = false;
  #timer: NodeJS.Timeout | null = null;
  readonly #helperDir: string;

  constructor(options: RunManagerOptions) {
    this.#o = options;
    this.#helperDir = options.sandbox.confinement.helperDir;
  }

  get store(): RunStore {
    return this.#o.store;
  }

  /** Fail runs a previous server process lost, and open the metrics callback listener. */
  async start(): Promise<void> {
    await this.#sweep();
    // Renew this process's runs and fail other processes' lost ones (several servers may share a database).
    this.#timer = setInterval(() => {
      const ids = [...this.#queue, ...this.#active.keys()];
      void this.#o.store
        .heartbeat(ids)
        .then(() => this.#sweep())
        .catch((e) => this.#o.logger.warn("run heartbeat failed", { error: String(e).slice(0, 200) }));
    }, this.#o.heartbeatMs ?? 10_000);
    this.#timer.unref();
    this.#callback = createServer((req, res) => void this.#onCallback(req, res));
    const socket = callbackSocketPath(this.#o.workDir);
    await new Promise<void>((resolve, reject) => {
      this.#callback?.once("error", reject);
      this.#callback?.listen(socket, () => resolve());
    });
    // every account may connect (the run's token is the check), none may replace it: the folder is the server's
    chmodSync(socket, 0o666);
    this.#callbackSocket = socket;
  }

  /** Fail runs whose heartbeat is older than three intervals: the process that owned them is gone. */
  async #sweep(): Promise<void> {
    const mine = new Set([...this.#queue, ...this.#active.keys()]);
    const staleBefore = new Date(Date.now() - 3 * (this.#o.heartbeatMs ?? 10_000));
    const lost = (
      await this.#o.store.failStale(staleBefore, {
        code: RunFailureCode.SERVER_RESTARTED,
        message: "The server process running this run stopped, so the run was lost; submit it again",
      })
    ).filter((id) => !mine.has(id));
    if (lost.length) this.#o.logger.warn("lost runs marked failed", { count: lost.length });
  }

  async #onCallback(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      const m = /^\/runs\/([0-9a-f-]{36})\/(metrics|snapshot|outputs)$/.exec(req.url ?? "");
      const active = m ? this.#active.get(m[1]!) : undefined;
      const given = String(req.headers["x-mlenv-run-token"] ?? "");
      if (
        !m ||
        !active ||
        given.length !== active.token.length ||
        !timingSafeEqual(Buffer.from(given), Buffer.from(active.token))
      ) {
        return answer(404, { error: "no active run with this id and token" });
      }
      const id = m[1]!;
      const what = m[2]!;
      if (what === "snapshot" && req.method === "GET") {
        // the docker target's entry fetches the source and the helper (the container has no mounts)
        const run = await this.#o.store.getRun(id);
        const manifest = await readSnapshot(this.#o.blobs, run?.snapshot ?? "");
        const files = [];
        for (const f of manifest.files) {
          const bytes = await this.#o.blobs.get(f.digest);
          files.push({
            path: f.path,
            content: Buffer.from(bytes ?? new Uint8Array()).toString("base64"),
            executable: f.executable,
          });
        }
        const helper = await readFile(join(this.#helperDir, "mlenv_run.py"), "utf8");
        return answer(200, { files, helpers: { "mlenv_run.py": helper } });
      }
      if (req.method !== "POST" || what === "snapshot") return answer(405, { error: "method not allowed" });
      const limit = what === "outputs" ? (this.#o.maxArtifactBytes ?? 500 * 1024 * 1024) * 1.4 : 1024 * 1024;
      let size = 0;
      const chunks: Buffer[] = [];
      for await (const c of req) {
        size += (c as Buffer).length;
        if (size > limit) return answer(413, { error: `${what} body over ${limit} bytes` });
        chunks.push(c as Buffer);
      }
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
      if (what === "outputs") {
        const files = Array.isArray(body.files)
          ? (body.files as { path?: unknown; content?: unknown }[])
          : [];
        const out: RunArtifact[] = [];
        for (const f of files) {
          if (typeof f.path !== "string" || typeof f.content !== "string") continue;
          checkRelativePath(f.path, "output path");
          if (!f.path.startsWith("outputs/")) continue;
          const bytes = new Uint8Array(Buffer.from(f.content, "base64"));
          out.push({ path: f.path, digest: await this.#o.blobs.put(bytes), size: bytes.length });
        }
        active.outputs = out;
        return answer(200, { ok: true, files: out.length });
      }
      if (typeof body.name !== "string" || !/^[^\0]{1,255}$/.test(body.name) || body.value === undefined) {
        return answer(400, { error: `expected {"name":"loss","value":0.1}; received ${preview(body)}` });
      }
      await this.#o.store.addMetric(id, body.name, body.value);
      answer(200, { ok: true });
    } catch (e) {
      answer(400, { error: String(e).slice(0, 200) });
    }
  }

  async submit(input: SubmitRunInput): Promise<RunRecord> {
    if (this.#closed) throw new ServerError(ServerErrorCode.CONFLICT, "The server is shutting down");
    if (input.target === "docker" && !this.#o.docker) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        'Expected target "local": this server has no Docker engine configured for the docker target; received "docker"',
      );
    }
    const builtIn = input.target === "local" || input.target === "docker";
    const compute = this.#o.compute;
    // on a compute target GPUs are a resource of the cluster job (Slurm GRES), not of this machine
    const resources = {
      ...(input.resources ?? { nodes: 1, tasksPerNode: 1, cpusPerTask: 1 }),
      ...(!builtIn && input.gpus?.count && input.resources?.gpus === undefined
        ? { gpus: input.gpus.count }
        : {}),
    };
    if (!builtIn) {
      if (!compute) {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected target "local" or "docker": this server has no compute targets configured; received ${preview(input.target)}`,
        );
      }
      await compute.cluster.check({
        workspaceId: input.workspaceId,
        target: input.target,
        resources,
      });
    }
    const hasData = input.arguments.some((a) => typeof a !== "string");
    if (hasData && !compute) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected plain string arguments: this server has no datastores configured; received a datastore argument on the ${input.target} target`,
      );
    }
    const inputs =
      hasData && compute ? await compute.service.resolveInputs(input.workspaceId, input.arguments) : [];
    if (input.target === "local") await this.#o.sandbox.checkLocalAllowed();
    const manifest = await readSnapshot(this.#o.blobs, input.snapshot);
    insideDir("/", input.script);
    if (!manifest.files.some((f) => f.path === input.script)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected the script to be a file of the source directory, e.g. "train.py"; ${preview(input.script)} is not in the snapshot (${manifest.files.length} files)`,
      );
    }
    const gpus = (builtIn ? input.gpus : undefined) ?? { count: 0, share: false };
    await checkGpusAvailable({
      gpus: this.#o.gpus,
      request: gpus,
      what: "run",
      docker: input.target === "docker" ? this.#o.docker?.client : undefined,
    });
    const { environment } = await resolveRunEnvironment(this.#o.registry, input);
    const run = await this.#o.store.createRun({
      workspaceId: input.workspaceId,
      experiment: input.experiment,
      target: input.target,
      script: input.script,
      // a datastore argument is recorded as a readable placeholder; `inputs` says what it read
      arguments: input.arguments.map((a) =>
        typeof a === "string"
          ? a
          : `{datastore:${a.datastore}${a.version ? `@${a.version}` : ""},mode:${a.mode}}`,
      ),
      snapshot: input.snapshot,
      environment,
      createdBy: input.createdBy,
      ...(gpus.count > 0 ? { gpus } : {}),
      ...(input.network ? { network: true } : {}),
    });
    if (inputs.length && compute) await compute.service.store.setRunInputs(run.id, inputs);
    if (!builtIn && compute) {
      await compute.cluster.launch(run, resources, inputs);
      return (await this.#o.store.getRun(run.id)) ?? run;
    }
    if (gpus.count > 0) this.#gpuWants.set(run.id, gpus);
    this.#queue.push(run.id);
    this.#pump();
    return run;
  }

  /**
   * The first queued run that can start now: in submission order, skipping runs whose GPUs are
   * not free (they keep their place; a CPU run behind them may start).
   */
  #next(): string | undefined {
    for (let i = 0; i < this.#queue.length; i++) {
      const id = this.#queue[i]!;
      const want = this.#gpuWants.get(id);
      if (want && this.#o.gpus) {
        const given = this.#o.gpus.allocator.tryAcquire(id, want);
        if (!given) {
          if (!this.#gpuWaiting.has(id)) {
            this.#gpuWaiting.add(id);
            void this.#note(
              id,
              `waiting for ${want.count} free GPU(s): the machine's ${this.#o.gpus.allocator.devices.length} GPU(s) are held by other runs or services`,
            );
          }
          continue;
        }
        this.#gpuGiven.set(id, given);
      }
      this.#gpuWants.delete(id);
      this.#gpuWaiting.delete(id);
      this.#queue.splice(i, 1);
      return id;
    }
    return undefined;
  }

  /** A system line in a queued run's log. */
  async #note(id: string, text: string): Promise<void> {
    try {
      const log = new LogWriter(this.#o.store, id, await this.#o.store.lastLogSeq(id));
      log.write("system", text);
      await log.flush();
    } catch (e) {
      this.#o.logger.warn("run log note failed", { run: id, error: String(e).slice(0, 200) });
    }
  }

  #release(id: string): void {
    this.#gpuWants.delete(id);
    this.#gpuWaiting.delete(id);
    if (this.#gpuGiven.delete(id)) this.#o.gpus?.allocator.release(id);
  }

  #pump(): void {
    while (!this.#closed && this.#running < (this.#o.concurrency ?? 2) && this.#queue.length > 0) {
      const id = this.#next();
      if (id === undefined) return;
      this.#running++;
      const p = this.#execute(id)
        .catch((e) =>
          this.#o.logger.error("run execution failed", { run: id, error: String(e).slice(0, 500) }),
        )
        .finally(() => {
          this.#release(id);
          this.#running--;
          this.#executions.delete(p);
          this.#pump();
        });
      this.#executions.add(p);
    }
  }

  async #execute(id: string): Promise<void> {
    const store = this.#o.store;
    const run = await store.getRun(id);
    if (run?.status !== "queued") return;
    const active: Active = {
      token: randomBytes(24).toString("base64url"),
      process: null,
      cancel: false,
      container: null,
      outputs: null,
    };
    this.#active.set(id, active);
    const log = new LogWriter(store, id, await store.lastLogSeq(id));
    const system = (t: string) => log.write("system", t);
    const dir = join(this.#o.workDir, id);
    let account: number | null = null;
    // the log is complete before a final status is visible (clients stop polling at a final status)
    const finish = async (
      status: "completed" | "failed",
      fields: Parameters<RunStore["setRunStatus"]>[2],
    ) => {
      await log.flush();
      await store.setRunStatus(id, status, fields);
    };
    try {
      if (!(await store.setRunStatus(id, "preparing"))) return;
      system(`run ${run.experiment} #${run.number} (${id}) on target ${run.target}`);
      system(
        `environment ${run.environment.name} version ${run.environment.version} (${run.environment.imageKey})`,
      );
      const { definition, lock } = recordedEnvironment(run.environment);
      const gpuDevices = this.#gpuGiven.get(id) ?? [];
      if (run.gpus.count > 0) {
        const names = gpuDevices.map(
          (i) => `${i} (${this.#o.gpus?.allocator.devices.find((d) => d.index === i)?.name ?? "GPU"})`,
        );
        system(`GPUs ${names.join(", ")}${run.gpus.share ? " (shared)" : ""}`);
        await store.setRunGpus(id, { ...run.gpus, devices: gpuDevices });
      }
      if (run.target === "docker") {
        const docker = this.#o.docker;
        if (!docker) throw new Error("the docker target is not configured on this server");
        const data = await this.#containerInputs(run, dir, system);
        const result = await dockerRun({
          ...docker,
          definition,
          lock,
          workspaceId: run.workspaceId,
          script: run.script,
          arguments: data.args,
          mounts: data.mounts,
          gpuDeviceIds: gpuDevices,
          network: run.network,
          callbackSocket: this.#callbackSocket,
          env: {
            ...definition.environmentVariables,
            // inside the container the given GPUs are numbered from 0
            ...(gpuDevices.length ? { MLENV_RUN_GPUS: gpuDevices.map((_, i) => i).join(",") } : {}),
            MLENV_RUN_ID: id,
            MLENV_RUN_TOKEN: active.token,
            MLENV_EXPERIMENT: run.experiment,
            PYTHONUNBUFFERED: "1",
            ...(data.copies.length ? { MLENV_RUN_INPUT_COPIES: JSON.stringify(data.copies) } : {}),
          },
          entrySource: await readFile(join(this.#helperDir, "mlenv_docker_entry.py"), "utf8"),
          log: (stream, text) => log.write(stream, text),
          onContainer: async (container) => {
            active.container = container;
            await store.setRunStatus(id, "running");
          },
          canceled: () => active.cancel,
          labels: this.#o.containerLabels ?? {},
        });
        active.container = null;
        const artifacts = active.outputs ?? [];
        if (artifacts.length) system(`kept ${artifacts.length} output file(s)`);
        if (active.cancel) {
          system("canceled");
          await store.setArtifacts(id, artifacts);
        } else if (result.exitCode === 0) {
          system("completed");
          await finish("completed", { exitCode: 0, artifacts });
        } else {
          system(`failed: the script exited with code ${result.exitCode}`);
          await finish("failed", {
            exitCode: result.exitCode,
            artifacts,
            error: {
              code: RunFailureCode.SCRIPT_FAILED,
              message: `The script ${run.script} exited with code ${result.exitCode} in its container; last output: ${log.tail.slice(-5).join(" | ").slice(-500)}`,
            },
          });
        }
        return;
      }
      const sandbox = this.#o.sandbox;
      await sandbox.checkLocalAllowed();
      const confinement = sandbox.confinement;
      account = await confinement.account(run.workspaceId);
      system(`confinement: ${confinement.describe(account)}`);
      system(
        `network: ${
          run.network
            ? "the machine's, as the run asked"
            : confinement.isolatesNetwork
              ? "none (its own empty network namespace)"
              : "the machine's (this server cannot take it away)"
        }`,
      );
      const preparePip = this.#o.preparePip;
      const interpreter = await this.#o.venvs.materialise({
        definition,
        imageKey: run.environment.imageKey,
        lock,
        log: system,
        account,
        ...(preparePip ? { preparePip: (lines: string[]) => preparePip(run.workspaceId, lines) } : {}),
      });
      await extractSnapshot(this.#o.blobs, await readSnapshot(this.#o.blobs, run.snapshot), dir);
      const args = await this.#inputArguments(run, dir, system);
      await mkdir(join(dir, ".tmp"), { recursive: true });
      confinement.harden();
      await confinement.own(dir, account);
      if (active.cancel) return;
      const env = childEnvironment({
        ...definition.environmentVariables,
        HOME: dir,
        TMPDIR: join(dir, ".tmp"),
        PYTHONPATH: [this.#helperDir, ...condaSitePackages(interpreter.venvDir)].join(":"),
        MLENV_RUN_ID: id,
        MLENV_RUN_CALLBACK: `unix:${this.#callbackSocket}`,
        MLENV_RUN_TOKEN: active.token,
        MLENV_EXPERIMENT: run.experiment,
        // the GPUs given to this run only; none when it asked for none (so none is used by accident)
        ...(gpuDevices.length || this.#o.gpus?.allocator.devices.length
          ? { CUDA_VISIBLE_DEVICES: cudaVisibleDevices(gpuDevices) }
          : {}),
        ...(gpuDevices.length ? { MLENV_RUN_GPUS: gpuDevices.join(",") } : {}),
        ...(interpreter.venvDir
          ? {
              VIRTUAL_ENV: interpreter.venvDir,
              PATH: `${join(interpreter.venvDir, "bin")}:${process.env.PATH ?? ""}`,
            }
          : {}),
      });
      system(`running ${interpreter.python} ${run.script} ${args.join(" ")}`.trimEnd());
      // with GPUs, the helper entry records their utilisation and memory while the script runs
      const entry = gpuDevices.length ? [join(this.#helperDir, "mlenv_gpu_entry.py")] : [];
      const wrapped = confinement.wrap({
        account,
        command: interpreter.python,
        args: ["-u", ...entry, insideDir(dir, run.script), ...args],
        cwd: dir,
        writable: [dir],
        readable: [
          ...(interpreter.venvDir ? [interpreter.venvDir] : []),
          this.#helperDir,
          this.#callbackSocket,
        ],
        network: run.network,
      });
      const proc = spawnLogged({
        ...wrapped,
        cwd: dir,
        env,
        sink: (stream, text) => log.write(stream, text),
      });
      active.process = proc;
      await sandbox.processes.record(`run-${id}`, proc.child.pid, account);
      await store.setRunStatus(id, "running", { pid: proc.child.pid ?? null });
      const { code, signal } = await proc.done;
      await sandbox.processes.forget(`run-${id}`);
      const artifacts = await this.#collectOutputs(dir, account, system);
      if (active.cancel) {
        system("canceled");
        await store.setArtifacts(id, artifacts);
      } else if (code === 0) {
        system("completed");
        await finish("completed", { exitCode: 0, artifacts });
      } else {
        const exit = code ?? 128;
        const why = signal ? `was killed by ${signal}` : `exited with code ${exit}`;
        system(`failed: the script ${why}`);
        await finish("failed", {
          exitCode: exit,
          artifacts,
          error: {
            code: RunFailureCode.SCRIPT_FAILED,
            message: `The script ${run.script} ${why}; last output: ${log.tail.slice(-5).join(" | ").slice(-500)}`,
          },
        });
      }
    } catch (e) {
      const f = failureOf(e);
      system(`failed: ${f.message}`);
      await finish("failed", { error: f });
    } finally {
      await log.flush();
      this.#active.delete(id);
      await this.#o.sandbox.confinement.remove(dir, account).catch(() => {});
    }
  }

  /**
   * Datastore arguments of a docker run: `mount` is a read-only bind mount of where the data lies
   * (the directory, or a blob version unpacked once per digest) at /mnt/mlenv/data/<argument
   * index>; `download` is copied here first, bind-mounted read-only at /mnt/mlenv/stage/<index>,
   * and the container's entry copies it into ./inputs/<name> of its working directory
   * (`MLENV_RUN_INPUT_COPIES`) and passes that path to the script.
   */
  async #containerInputs(
    run: RunRecord,
    dir: string,
    system: (t: string) => void,
  ): Promise<{
    args: string[];
    mounts: { source: string; target: string; readOnly: boolean }[];
    copies: { index: number; source: string; name: string }[];
  }> {
    const args = [...run.arguments];
    const mounts: { source: string; target: string; readOnly: boolean }[] = [];
    const copies: { index: number; source: string; name: string }[] = [];
    const compute = this.#o.compute;
    if (!run.inputs?.length || !compute) return { args, mounts, copies };
    for (const input of run.inputs as unknown as ResolvedInput[]) {
      const what = `input ${input.datastore} (${input.mode}${input.version ? `, version ${input.version}` : ""})`;
      if (input.mode === "mount") {
        const source = await compute.service.materialiseInput(run.workspaceId, input, { workDir: dir });
        const target = `/mnt/mlenv/data/${input.index}`;
        mounts.push({ source, target, readOnly: true });
        args[input.index] = target;
        system(`${what}: ${source} mounted read-only at ${target}`);
      } else {
        const source = await compute.service.materialiseInput(run.workspaceId, input, {
          workDir: join(dir, "stage", String(input.index)),
        });
        const target = `/mnt/mlenv/stage/${input.index}`;
        mounts.push({ source, target, readOnly: true });
        copies.push({ index: input.index, source: target, name: input.datastore });
        args[input.index] = `inputs/${input.datastore}`;
        system(`${what}: copied into ./inputs/${input.datastore} of the container's working directory`);
      }
    }
    return { args, mounts, copies };
  }

  /** The run's arguments with each datastore argument replaced by the path its data appears at. */
  async #inputArguments(run: RunRecord, dir: string, system: (t: string) => void): Promise<string[]> {
    const args = [...run.arguments];
    const compute = this.#o.compute;
    if (!run.inputs?.length || !compute) return args;
    for (const input of run.inputs as unknown as ResolvedInput[]) {
      const path = await compute.service.materialiseInput(run.workspaceId, input, { workDir: dir });
      args[input.index] = path;
      system(
        `input ${input.datastore} (${input.mode}${input.version ? `, version ${input.version}` : ""}): ${path}`,
      );
    }
    return args;
  }

  /**
   * Keep the files under ./outputs as blobs. User code wrote them (and may still be running):
   * each is opened without following a link and kept only when it is a plain file with one link
   * (owned by the run's account when there is one), so no link can make the server read a file
   * of its own or another workspace's.
   */
  async #collectOutputs(
    dir: string,
    account: number | null,
    system: (t: string) => void,
  ): Promise<RunArtifact[]> {
    const root = join(dir, "outputs");
    const out: RunArtifact[] = [];
    const max = this.#o.maxArtifactBytes ?? 500 * 1024 * 1024;
    let total = 0;
    for await (const p of outputFiles(root)) {
      const bytes = await readOwnFile(p, account, max - total);
      if (bytes === "too-large") {
        system(`artifact ${relative(dir, p)} not kept: outputs exceed ${max} bytes`);
        continue;
      }
      if (!bytes) {
        system(`artifact ${relative(dir, p)} not kept: not a plain file of the run`);
        continue;
      }
      total += bytes.length;
      const digest = await this.#o.blobs.put(bytes);
      out.push({ path: relative(dir, p).split(sep).join("/"), digest, size: bytes.length });
    }
    if (out.length) system(`kept ${out.length} output file(s), ${total} bytes`);
    return out;
  }

  /** Cancel a run: a queued one never starts; a running one has its process tree stopped. */
  async cancel(id: string): Promise<RunRecord | null> {
    const run = await this.#o.store.getRun(id);
    if (!run) return null;
    const active = this.#active.get(id);
    if (active) this.#active.get(id)!.cancel = true;
    const moved = await this.#o.store.setRunStatus(id, "canceled", {
      error: { code: "E_CANCELED", message: "Canceled by a user" },
    });
    if (moved && run.target !== "local" && run.target !== "docker") {
      await this.#o.compute?.cluster.cancel(run);
      return this.#o.store.getRun(id);
    }
    const qi = this.#queue.indexOf(id);
    if (qi >= 0) {
      this.#queue.splice(qi, 1);
      this.#release(id);
    }
    if (moved && active) {
      active.cancel = true;
      if (active.process) await stopTree(active.process);
      if (active.container) await this.#o.docker?.client.removeContainer(active.container).catch(() => false);
    }
    return this.#o.store.getRun(id);
  }

  /** Stop accepting runs and stop active ones (they are marked failed: the server stopped). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    const stops: Promise<void>[] = [];
    for (const [id, a] of this.#active) {
      a.cancel = true;
      stops.push(
        this.#o.store
          .setRunStatus(id, "failed", {
            error: {
              code: RunFailureCode.SERVER_RESTARTED,
              message: "The server stopped while this run was active",
            },
          })
          .then(async () => {
            if (a.process) await stopTree(a.process, 1000);
            if (a.container) await this.#o.docker?.client.removeContainer(a.container).catch(() => false);
          })
          .catch(() => {}),
      );
    }
    await Promise.all(stops);
    // let executions record their end before the store closes (a pip install is not waited for long)
    await Promise.race([Promise.all([...this.#executions]), new Promise((r) => setTimeout(r, 5000).unref())]);
    await new Promise<void>((resolve) =>
      this.#callback ? this.#callback.close(() => resolve()) : resolve(),
    );
    removeCallbackSocket(this.#callbackSocket);
  }
}

/** Longest unix socket path Linux takes (`sun_path` holds 108 bytes with the NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Where this process's run callback listens: `<workDir>/.callback-<pid>.sock` (one per process,
 * so processes sharing a data dir do not collide; a stale one of a crashed process with the same
 * pid is replaced), or a fresh folder under the temp dir when that path is too long for a socket.
 */
function callbackSocketPath(workDir: string): string {
  const name = `.callback-${process.pid}.sock`;
  let path = join(workDir, name);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    const dir = mkdtempSync(join(tmpdir(), "mlenv-callback-"));
    chmodSync(dir, 0o711);
    path = join(dir, name);
  } else mkdirSyncPrivate(workDir);
  rmSync(path, { force: true });
  return path;
}

function mkdirSyncPrivate(dir: string): void {
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o711 });
}

function removeCallbackSocket(path: string): void {
  if (!path) return;
  rmSync(path, { force: true });
  if (dirname(path).startsWith(join(tmpdir(), "mlenv-callback-")))
    rmSync(dirname(path), { recursive: true, force: true });
}

export { RunFailure };
