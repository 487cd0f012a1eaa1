import { randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join, resolve, sep } from "node:path";
import type { EnvironmentDefinition, Lock } from "@mlenv/core";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { cudaVisibleDevices } from "../gpus/allocator";
import { checkGpusAvailable, gpuRequest } from "../gpus/gpus";
import { checkModelName } from "../models/models";
import { LineTail } from "../runs/dockerTarget";
import { type CodeSubmission, recordedEnvironment, resolveRunEnvironment } from "../runs/environments";
import { failureOf, RunFailure, RunFailureCode } from "../runs/errors";
import { LogWriter } from "../runs/logWriter";
import { spawnLogged, stopTree } from "../runs/process";
import {
  childEnvironment,
  condaSitePackages,
  type ExecutionOptions,
  pythonHelperDir,
} from "../runs/runManager";
import type { ModelRecord, ServiceDeploymentConfig, ServiceRecord } from "../runs/runStore";
import { checkRelativePath, extractSnapshot, readSnapshot } from "../runs/snapshot";

const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** The header a service's worker requires on `/score` (the server's scoring route adds it). */
export const SERVICE_TOKEN_HEADER = "x-mlenv-service-token";
const GIB = 1024 ** 3;

/** Checked limits: each absent/null or a finite number in 0.01..1024 (a BAD_REQUEST otherwise). */
export function checkDeploymentConfig(c: DeployInput["deploymentConfig"]): ServiceDeploymentConfig {
  const one = (key: "cpuCores" | "memoryGb", example: string): number | null => {
    const v = c?.[key];
    if (v === undefined || v === null) return null;
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0.01 || v > 1024) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected deploymentConfig.${key} to be a number from 0.01 to 1024, e.g. ${example}; received ${preview(v)}`,
      );
    }
    return v;
  };
  const gpus = gpuRequest(c?.gpus, c?.shareGpus);
  return {
    cpuCores: one("cpuCores", "0.5"),
    memoryGb: one("memoryGb", "0.5"),
    ...(gpus.count > 0 ? { gpus: gpus.count, shareGpus: gpus.share } : {}),
  };
}

export interface DeployInput extends CodeSubmission {
  name: string;
  target?: "local" | "docker";
  /** CPU cores and memory in GB (2^30 bytes, as Docker's `--memory 1g`): enforced on docker, recorded on local. */
  deploymentConfig?:
    | {
        cpuCores?: number | null | undefined;
        memoryGb?: number | null | undefined;
        /** GPUs the worker holds while the service lives (exclusively unless `shareGpus`). */
        gpus?: number | null | undefined;
        shareGpus?: boolean | undefined;
      }
    | undefined;
  model: { name: string; version?: number | undefined };
  entryScript: string;
}

export interface ServiceManagerOptions extends ExecutionOptions {
  /** Restarts of a crashing worker before the service is marked failed (default 5). */
  maxRestarts?: number;
  /** How long a worker may take to answer /healthz after start (default 60 s). */
  startTimeoutMs?: number;
  /**
   * How often this process renews its hold on its services and looks for services nobody runs
   * (default 5 s); a holder that misses three renewals is taken over by another process.
   */
  heartbeatMs?: number;
}

/** One running worker: a local process or a container. */
interface Worker {
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(graceMs: number): Promise<void>;
}

/** What a service's workers are started from, on either target. */
interface WorkerPlan {
  service: ServiceRecord;
  definition: EnvironmentDefinition;
  lock: Lock | null;
  model: ModelRecord;
  /** The loopback port the worker binds. */
  port: number;
  log: LogWriter;
  /** GPUs held for the service (CUDA_VISIBLE_DEVICES / the container's devices). */
  gpuDevices: number[];
}

interface Live {
  process: Worker | null;
  stopping: boolean;
  /** The service's log (null until its last sequence number is read). */
  log: LogWriter | null;
  /** When this process took the service (see #tick). */
  seq: number;
}

/** A free loopback port (the worker binds it; the same port is reused across restarts). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r, j) => {
    s.once("error", j);
    s.listen(0, "127.0.0.1", () => r());
  });
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Local web services: the entry script's `init()` once and `run(raw_data)` per `POST /score`, in
 * a Python worker on 127.0.0.1 in the environment's venv, restarted when it crashes.
 */
export class ServiceManager {
  readonly #o: ServiceManagerOptions;
  readonly #live = new Map<string, Live>();
  readonly #images = new Map<string, string>();
  /** This process as a service owner: one process at a time runs a service's workers. */
  readonly #owner = randomUUID();
  #timer: NodeJS.Timeout | undefined;
  #tickRunning: Promise<void> | undefined;
  /** Orders takeovers and heartbeats (a heartbeat cannot vouch for a service taken after it began). */
  #seq = 0;
  #closed = false;

  constructor(options: ServiceManagerOptions) {
    this.#o = options;
  }

  get #heartbeatMs(): number {
    return this.#o.heartbeatMs ?? 5_000;
  }

  /**
   * Start the workers of services that were live when the server stopped and that no other
   * server process runs; then keep renewing this process's hold and take over services whose
   * process went away.
   */
  async start(): Promise<void> {
    await this.#adopt();
    if (this.#closed) return;
    this.#timer = setInterval(() => {
      this.#tick().catch((e) =>
        this.#o.logger.warn("service heartbeat failed", { error: String(e).slice(0, 200) }),
      );
    }, this.#heartbeatMs);
    this.#timer.unref();
  }

  /** Launch the live services that nobody holds (all of them at a first start), holding them. */
  async #adopt(): Promise<void> {
    const staleBefore = new Date(Date.now() - 3 * this.#heartbeatMs);
    for (const s of await this.#o.store.unheldServices(staleBefore)) {
      if (this.#closed) return;
      if (this.#live.has(s.id)) continue;
      const mine = await this.#o.store.claimService(s.id, this.#owner, staleBefore);
      // (a close or another launch may have come while the claim was on its way)
      if (mine && !this.#closed && !this.#live.has(s.id)) this.#launch(mine);
    }
  }

  /** Renew this process's hold, stop what it no longer holds, take over what nobody runs. */
  #tick(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#tickRunning) return this.#tickRunning;
    this.#tickRunning = (async () => {
      const mark = ++this.#seq;
      const held = new Set(await this.#o.store.heartbeatServices(this.#owner));
      // deleted through another process, or taken over after this one missed its renewals;
      // stops run on their own so that slow ones do not hold up the next renewal
      for (const [id, live] of this.#live) {
        if (live.seq < mark && !held.has(id)) {
          this.#stopHere(id).catch((e) =>
            this.#o.logger.warn("stopping a service failed", { id, error: String(e).slice(0, 200) }),
          );
        }
      }
      await this.#adopt();
    })().finally(() => {
      this.#tickRunning = undefined;
    });
    return this.#tickRunning;
  }

  /** Stop a service's worker in this process because it is no longer this process's to run. */
  async #stopHere(id: string): Promise<void> {
    const live = this.#live.get(id);
    if (!live) return;
    this.#live.delete(id);
    live.stopping = true;
    if (live.process) await live.process.stop(2000);
    this.#o.gpus?.allocator.release(id);
    const now = await this.#o.store.getService(id);
    if (!now || now.status === "deleted") {
      live.log?.write("system", "deleted");
      await this.#cleanUp(id);
    } else live.log?.write("system", "stopped here: another server process runs this service now");
    await live.log?.flush();
  }

  async #cleanUp(id: string): Promise<void> {
    const image = this.#images.get(id);
    if (image) {
      this.#images.delete(id);
      await this.#o.docker?.client.removeImage(image, { force: true }).catch(() => false);
    }
    const service = await this.#o.store.getService(id);
    const account = service ? await this.#o.sandbox.confinement.account(service.workspaceId) : null;
    await this.#o.sandbox.confinement.remove(join(this.#o.workDir, id), account);
  }

  async deploy(input: DeployInput): Promise<ServiceRecord> {
    if (!NAME.test(input.name)) {
      throw new ServerError(
        ServerErrorCode.NAME_INVALID,
        `Expected a service name of 1-63 characters [a-z0-9-] starting with a letter or digit, e.g. "churn-scoring"; received ${preview(input.name)}`,
      );
    }
    checkModelName(input.model.name);
    const deploymentConfig = checkDeploymentConfig(input.deploymentConfig);
    if (input.target !== "docker") await this.#o.sandbox.checkLocalAllowed();
    if (input.target === "docker" && !this.#o.docker) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        'Expected target "local": this server has no Docker engine configured for the docker target; received "docker"',
      );
    }
    const gpus = { count: deploymentConfig.gpus ?? 0, share: deploymentConfig.shareGpus ?? false };
    await checkGpusAvailable({
      gpus: this.#o.gpus,
      request: gpus,
      what: "service",
      docker: input.target === "docker" ? this.#o.docker?.client : undefined,
    });
    const model = await this.#o.store.getModel(input.workspaceId, input.model.name, input.model.version);
    if (!model) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No model ${preview(input.model.name)}${input.model.version ? ` version ${input.model.version}` : ""} in this workspace; register it first (mlenv model register)`,
      );
    }
    checkRelativePath(input.entryScript, "entry script path");
    const manifest = await readSnapshot(this.#o.blobs, input.snapshot);
    if (!manifest.files.some((f) => f.path === input.entryScript)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected the entry script to be a file of the source directory, e.g. "score.py"; ${preview(input.entryScript)} is not in the snapshot`,
      );
    }
    const { environment } = await resolveRunEnvironment(this.#o.registry, input);
    const service = await this.#o.store.createService({
      workspaceId: input.workspaceId,
      name: input.name,
      target: input.target ?? "local",
      deploymentConfig,
      model: { name: model.name, version: model.version },
      entryScript: input.entryScript,
      snapshot: input.snapshot,
      environment,
      createdBy: input.createdBy,
      // held by this process from the start: no other process can take it before it runs
      owner: this.#owner,
    });
    if (!service) {
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `A service named ${preview(input.name)} already exists; delete it first (mlenv service delete ${input.name}) or choose another name`,
      );
    }
    this.#launch(service);
    return service;
  }

  /** Run a service this process holds (registered at once, so it cannot be launched twice). */
  #launch(service: ServiceRecord): void {
    const live: Live = { process: null, stopping: false, log: null, seq: ++this.#seq };
    this.#live.set(service.id, live);
    void this.#run(service, live);
  }

  async #run(service: ServiceRecord, live: Live): Promise<void> {
    const store = this.#o.store;
    const mine = { owner: this.#owner };
    const system = (t: string) => live.log?.write("system", t);
    const dir = join(this.#o.workDir, service.id);
    try {
      const log = new LogWriter(store, service.id, await store.lastLogSeq(service.id));
      live.log = log;
      system(
        `deploying ${service.name}: model ${service.model.name}:${service.model.version}, environment ${service.environment.name}:${service.environment.version}`,
      );
      const { definition, lock } = recordedEnvironment(service.environment);
      const model = await store.getModel(service.workspaceId, service.model.name, service.model.version);
      if (!model) throw new Error(`model ${service.model.name}:${service.model.version} is gone`);
      const { cpuCores, memoryGb } = service.deploymentConfig;
      if (cpuCores !== null || memoryGb !== null) {
        const asked = `${cpuCores ?? "-"} CPU cores, ${memoryGb ?? "-"} GB memory`;
        system(
          service.limitsEnforced
            ? `limits: ${asked} (enforced by the container)`
            : `limits: ${asked} recorded but NOT enforced on the ${service.target} target`,
        );
      }
      const gpuDevices = this.#takeGpus(service);
      const port = service.port ?? (await freePort());
      const url = `http://127.0.0.1:${port}`;
      const startWorker =
        service.target === "docker"
          ? await this.#dockerWorkers({ service, definition, lock, model, port, log, gpuDevices })
          : await this.#localWorkers({ service, definition, lock, model, port, log, dir, gpuDevices });
      await store.updateService(service.id, { port, url }, mine);
      let restarts = service.restarts;
      const maxRestarts = this.#o.maxRestarts ?? 5;
      for (;;) {
        if (live.stopping || this.#closed) return;
        const proc = await startWorker();
        live.process = proc;
        const healthy = await this.#waitHealthy(url, proc);
        if (healthy) {
          system(`healthy at ${url}`);
          await store.updateService(service.id, { status: "healthy", error: null }, mine);
        }
        const { code, signal } = await proc.done;
        if (live.stopping || this.#closed) return;
        restarts++;
        const why = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        system(
          `worker ${why}${healthy ? "" : " before answering /healthz"}; restart ${restarts} of ${maxRestarts}`,
        );
        if (restarts > maxRestarts) {
          await store.updateService(
            service.id,
            {
              status: "failed",
              restarts,
              error: {
                code: RunFailureCode.SERVICE_FAILED,
                message: `The worker ${why} ${restarts} times; last output: ${log.tail.slice(-5).join(" | ").slice(-500)}`,
              },
            },
            mine,
          );
          return;
        }
        await store.updateService(service.id, { status: "unhealthy", restarts }, mine);
        await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** (restarts - 1), 5000)));
      }
    } catch (e) {
      const f = failureOf(e);
      system(`failed: ${f.message}`);
      if (!live.stopping)
        await store.updateService(service.id, { status: "failed", error: f }, mine).catch(() => {});
    } finally {
      // no worker runs any more (failed, stopped or deleted): its GPUs are free
      this.#o.gpus?.allocator.release(service.id);
      await live.log?.flush();
    }
  }

  /**
   * The GPUs a service holds while it runs (none when it asked for none). A service does not
   * wait: with too few free GPUs it fails, naming who should give them back.
   */
  #takeGpus(service: ServiceRecord): number[] {
    const count = service.deploymentConfig.gpus ?? 0;
    if (count === 0) return [];
    const share = service.deploymentConfig.shareGpus ?? false;
    const gpus = this.#o.gpus;
    const given = gpus?.allocator.tryAcquire(service.id, { count, share }) ?? null;
    if (!gpus || !given) {
      throw new RunFailure(
        RunFailureCode.GPU_BUSY,
        `The service asks for ${count} GPU(s) but only ${gpus ? gpus.allocator.devices.length : 0} exist on this machine and they are held by runs or other services; delete a service or wait for runs to end, then deploy again${share ? "" : " (or deploy with shareGpus)"}`,
      );
    }
    const names = given.map(
      (i) => `${i} (${gpus.allocator.devices.find((d) => d.index === i)?.name ?? "GPU"})`,
    );
    this.#live.get(service.id)?.log?.write("system", `GPUs ${names.join(", ")}${share ? " (shared)" : ""}`);
    return given;
  }

  /** Files of the service's model, path → bytes (paths checked). */
  async #modelFiles(model: ModelRecord): Promise<Map<string, Uint8Array>> {
    const out = new Map<string, Uint8Array>();
    for (const f of model.files) {
      checkRelativePath(f.path, "model file path");
      const bytes = await this.#o.blobs.get(f.digest);
      if (!bytes) throw new Error(`model blob ${f.digest} is missing`);
      out.set(f.path, bytes);
    }
    return out;
  }

  /** Local target: the venv, the source and model files under the service's folder, a python worker. */
  async #localWorkers(o: WorkerPlan & { dir: string }): Promise<() => Promise<Worker>> {
    const { service, dir } = o;
    const system = (t: string) => o.log.write("system", t);
    const sandbox = this.#o.sandbox;
    await sandbox.checkLocalAllowed();
    const confinement = sandbox.confinement;
    const account = await confinement.account(service.workspaceId);
    system(`confinement: ${confinement.describe(account)}`);
    const preparePip = this.#o.preparePip;
    const interpreter = await this.#o.venvs.materialise({
      definition: o.definition,
      imageKey: service.environment.imageKey,
      lock: o.lock,
      log: system,
      account,
      ...(preparePip ? { preparePip: (lines: string[]) => preparePip(service.workspaceId, lines) } : {}),
    });
    await confinement.remove(dir, account);
    await extractSnapshot(
      this.#o.blobs,
      await readSnapshot(this.#o.blobs, service.snapshot),
      join(dir, "src"),
    );
    const modelDir = resolve(dir, "model");
    for (const [path, bytes] of await this.#modelFiles(o.model)) {
      const target = resolve(modelDir, path);
      if (!target.startsWith(modelDir + sep)) throw new Error(`model path escapes: ${path}`);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
    await mkdir(join(dir, ".tmp"), { recursive: true });
    confinement.harden();
    await confinement.own(dir, account);
    const helpers = confinement.helperDir;
    const env = childEnvironment({
      ...o.definition.environmentVariables,
      HOME: dir,
      TMPDIR: join(dir, ".tmp"),
      PYTHONPATH: [helpers, ...condaSitePackages(interpreter.venvDir)].join(":"),
      MLENV_MODEL_DIR: modelDir,
      AZUREML_MODEL_DIR: modelDir,
      MLENV_SERVICE_NAME: service.name,
      MLENV_SERVICE_TOKEN: await this.#o.store.serviceWorkerToken(service.id),
      ...(o.gpuDevices.length || this.#o.gpus?.allocator.devices.length
        ? { CUDA_VISIBLE_DEVICES: cudaVisibleDevices(o.gpuDevices) }
        : {}),
      ...(interpreter.venvDir
        ? {
            VIRTUAL_ENV: interpreter.venvDir,
            PATH: `${join(interpreter.venvDir, "bin")}:${process.env.PATH ?? ""}`,
          }
        : {}),
    });
    const key = `service-${service.id}`;
    return async () => {
      const wrapped = confinement.wrap({
        account,
        command: interpreter.python,
        args: [
          "-u",
          join(helpers, "mlenv_serve.py"),
          join(dir, "src", ...service.entryScript.split("/")),
          String(o.port),
        ],
        cwd: join(dir, "src"),
        writable: [dir],
        readable: [...(interpreter.venvDir ? [interpreter.venvDir] : []), helpers],
      });
      const proc = spawnLogged({
        ...wrapped,
        cwd: join(dir, "src"),
        env,
        sink: (stream, text) => o.log.write(stream, text),
      });
      await sandbox.processes.record(key, proc.child.pid, account);
      const done = proc.done.then(async (r) => {
        await sandbox.processes.forget(key).catch(() => {});
        return r;
      });
      return { done, stop: (grace) => stopTree(proc, grace) };
    };
  }

  /**
   * Docker target: the environment's image from the builder, then a service image on top holding
   * the source and model as one JSON bundle (file names need not be safe context paths) that the
   * container's entry unpacks before starting the worker with host networking on `port` (the
   * server must reach it; the worker answers /score only with the service's token).
   */
  async #dockerWorkers(o: WorkerPlan): Promise<() => Promise<Worker>> {
    const docker = this.#o.docker;
    if (!docker) throw new Error("the docker target is not configured on this server");
    const system = (t: string) => o.log.write("system", t);
    const built = await docker.builder.build({
      definition: o.definition,
      ...(o.lock ? { lock: o.lock } : {}),
      workspaceId: o.service.workspaceId,
      onLog: (l) => system(`build: ${l.text}`),
    });
    system(`environment image ${built.image}${built.cacheHit ? " (cached)" : ""}`);
    const manifest = await readSnapshot(this.#o.blobs, o.service.snapshot);
    const src: Record<string, string> = {};
    for (const f of manifest.files) {
      const bytes = await this.#o.blobs.get(f.digest);
      src[f.path] = Buffer.from(bytes ?? new Uint8Array()).toString("base64");
    }
    const model: Record<string, string> = {};
    for (const [path, bytes] of await this.#modelFiles(o.model))
      model[path] = Buffer.from(bytes).toString("base64");
    const helpers = pythonHelperDir();
    const tag = `mlenv/service_${o.service.id.replace(/-/g, "")}:latest`;
    const enc = (t: string) => new TextEncoder().encode(t);
    await docker.client.buildImage({
      context: {
        Dockerfile: enc(
          `FROM ${built.image}\nCOPY bundle.json mlenv_serve.py mlenv_bundle_entry.py /opt/mlenv-service/\n`,
        ),
        "bundle.json": enc(JSON.stringify({ src, model })),
        "mlenv_serve.py": enc(await readFile(join(helpers, "mlenv_serve.py"), "utf8")),
        "mlenv_bundle_entry.py": enc(await readFile(join(helpers, "mlenv_bundle_entry.py"), "utf8")),
      },
      tags: [tag],
      labels: { "mlenv.service": o.service.id },
      onLog: (l) => system(`build: ${l.text}`),
    });
    this.#images.set(o.service.id, tag);
    const python = o.definition.python.userManagedDependencies
      ? o.definition.python.interpreterPath
      : "python";
    const token = await this.#o.store.serviceWorkerToken(o.service.id);
    return async () => {
      const id = await docker.client.createContainer({
        image: tag,
        cmd: [
          python,
          "-u",
          "/opt/mlenv-service/mlenv_bundle_entry.py",
          o.service.entryScript,
          String(o.port),
        ],
        env: {
          ...o.definition.environmentVariables,
          MLENV_SERVICE_NAME: o.service.name,
          MLENV_SERVICE_TOKEN: token,
          PYTHONUNBUFFERED: "1",
        },
        // the server reaches the worker on the host's loopback (no bridge); its token keeps others out
        network: "host",
        labels: { ...this.#o.containerLabels, "mlenv.service": o.service.id },
        ...(o.gpuDevices.length ? { gpuDeviceIds: o.gpuDevices } : {}),
        ...(o.service.deploymentConfig.cpuCores !== null
          ? { cpus: o.service.deploymentConfig.cpuCores }
          : {}),
        ...(o.service.deploymentConfig.memoryGb !== null
          ? { memoryBytes: Math.round(o.service.deploymentConfig.memoryGb * GIB) }
          : {}),
      });
      await docker.client.startContainer(id);
      system(`worker container ${id.slice(0, 12)} (host network; /score needs the service's token)`);
      const out = new LineTail((t) => o.log.write("stdout", t));
      const err = new LineTail((t) => o.log.write("stderr", t));
      let exited = false;
      const done = docker.client.waitContainer(id).then(
        (code) => ({ code, signal: null }),
        () => ({ code: 137, signal: null }),
      );
      void done.then(() => {
        exited = true;
      });
      void (async () => {
        for (;;) {
          const logs = await docker.client.containerLogs(id).catch(() => null);
          if (logs) {
            out.update(logs.stdout, exited);
            err.update(logs.stderr, exited);
          }
          if (exited || !logs) break;
          await Promise.race([done, new Promise((r) => setTimeout(r, 500))]);
        }
        await docker.client.removeContainer(id).catch(() => false);
      })();
      return {
        done: done as Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
        stop: async () => {
          await docker.client.removeContainer(id).catch(() => false);
          await done;
        },
      };
    };
  }

  async #waitHealthy(url: string, proc: Worker): Promise<boolean> {
    let exited = false;
    void proc.done.then(() => {
      exited = true;
    });
    const deadline = Date.now() + (this.#o.startTimeoutMs ?? 60_000);
    while (!exited && Date.now() < deadline) {
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return true;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    return false;
  }

  /**
   * The headers a request to a service's worker needs: its token. Workers answer 401 to
   * `/score` without it, so only the server (its scoring route) can score a service.
   */
  async workerHeaders(serviceId: string): Promise<Record<string, string>> {
    return { [SERVICE_TOKEN_HEADER]: await this.#o.store.serviceWorkerToken(serviceId) };
  }

  /** Stop a service's worker and remove it (its logs stay readable by id). */
  async delete(service: ServiceRecord): Promise<void> {
    const live = this.#live.get(service.id);
    if (live) {
      live.stopping = true;
      if (live.process) await live.process.stop(2000);
      this.#o.gpus?.allocator.release(service.id);
      live.log?.write("system", "deleted");
      await live.log?.flush();
      this.#live.delete(service.id);
    }
    // the process that runs it, if another, stops its worker at its next heartbeat
    await this.#o.store.updateService(service.id, { status: "deleted" });
    await this.#cleanUp(service.id);
  }

  /**
   * Stop every worker (server shutdown) and let go of the services: they stay registered, and
   * another server process, or this server's next start, runs them.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    // a renewal under way may still claim: let it finish before letting go
    await this.#tickRunning?.catch(() => {});
    await Promise.all(
      [...this.#live.values()].map(async (l) => {
        l.stopping = true;
        if (l.process) await l.process.stop(1000);
        await l.log?.flush();
      }),
    );
    this.#live.clear();
    await this.#o.store
      .releaseServices(this.#owner)
      .catch((e) => this.#o.logger.warn("releasing services failed", { error: String(e).slice(0, 200) }));
  }
}
