import { type common, models as M, runs as R, routePath, services as Sv } from "@mlenv/api";
import type { DatastoreArgument, MpiConfiguration, PyTorchConfiguration, RunResources } from "./compute";
import { CondaDependencies } from "./condaDependencies";
import { Environment } from "./environment";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { followLog, waitForLogEnd } from "./internal/followLog";
import type { FollowOptions, LogEvent, LogWaitOptions } from "./logStream";
import type { Workspace } from "./workspace";

/** One file of a run's source snapshot. */
export interface SnapshotFile {
  /** POSIX path relative to the source directory, e.g. `train.py`. */
  path: string;
  content: Uint8Array;
  executable?: boolean;
}

export type RunStatus = R.RunStatus;

/** The exact environment a run or service used. */
export type RunEnvironmentInfo = R.RunEnvironment;

export type RunArtifact = common.Artifact;

/** A run as the server describes it. */
export type RunInfo = R.Run;

/** A run's GPUs: `count` asked for (exclusively unless `share`), `devices` given. */
export type RunGpus = R.RunGpus;

/** The server machine's GPUs (`GET /api/v1/gpus`). */
export type GpuInfo = R.Gpus;

export type LogLine = common.LogLine;

export type MetricPoint = R.MetricPoint;

export type ModelInfo = M.Model;

export type ServiceStatus = Sv.ServiceStatus;

/**
 * A deployed service as the server describes it: `deploymentConfig` holds the CPU cores and
 * memory (GB, 2^30 bytes) asked for (null when not), enforced on docker only (`limitsEnforced`);
 * `url` is the worker's base URL on 127.0.0.1.
 */
export type ServiceInfo = Sv.Service;

/** How a run or deployment names its environment. */
export type EnvironmentRef =
  | Environment
  | string
  | { name: string; version?: number | undefined; label?: string | undefined };

/** The JSON form the server takes: a registered name (+version/label) or a definition to register. */
export function environmentChoice(env: EnvironmentRef | undefined | null): R.EnvironmentChoice {
  if (env === undefined || env === null) return null;
  if (typeof env === "string") {
    const m = /^(.+?)(?::(\d+))?$/.exec(env);
    return m?.[2] ? { name: m[1]!, version: Number(m[2]) } : { name: env };
  }
  if (env instanceof Environment) {
    // a registered, unchanged environment is named (curated ones cannot be registered again)
    const reg = env.registration;
    if (reg && reg.definitionHash === env.definitionHash) return { name: reg.name, version: reg.version };
    const def = env.toJSON();
    return { definition: { ...def, version: null } };
  }
  const out: { name: string; version?: number; label?: string } = { name: env.name };
  if (env.version !== undefined) out.version = env.version;
  if (env.label !== undefined) out.label = env.label;
  return out;
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Files as the server's JSON takes them. */
export function encodeFiles(
  files: SnapshotFile[],
): { path: string; content: string; executable?: boolean }[] {
  return files.map((f) => ({
    path: f.path,
    content: base64(f.content),
    ...(f.executable ? { executable: true } : {}),
  }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Raw calls for runs, models and services of one workspace (`/api/v1/{snapshots,runs,models,services}`). */
export class RunsClient {
  constructor(readonly workspace: Workspace) {}

  /** Upload a source snapshot; returns its content address (the same files give the same id). */
  uploadSnapshot(files: SnapshotFile[]): Promise<R.Snapshot> {
    return this.workspace.call(R.uploadSnapshot, { body: { files: encodeFiles(files) } });
  }

  /**
   * Submit a run: `target` is `local`, `docker` or an attached compute target; with `gpus` it
   * waits until that many are free (409 E_GPU_UNAVAILABLE when the machine has fewer);
   * `network` gives the run's code network access (default none on local and docker).
   */
  submit(body: R.SubmitInput): Promise<RunInfo> {
    return this.workspace.call(R.submitRun, { body });
  }

  /** The server machine's GPUs and `__cuda` version. */
  gpus(): Promise<GpuInfo> {
    return this.workspace.call(R.listGpus);
  }

  get(id: string): Promise<RunInfo> {
    return this.workspace.call(R.getRun, { params: { id } });
  }

  async list(options: { experiment?: string } = {}): Promise<RunInfo[]> {
    return (await this.workspace.call(R.listRuns, { query: { experiment: options.experiment } })).items;
  }

  logs(id: string, after = 0): Promise<{ items: LogLine[]; status: RunStatus; next: number }> {
    return this.workspace.call(R.runLogs, { params: { id }, query: { after } });
  }

  /**
   * A run's output as it is written (server-sent events): every line after `after`, then the
   * final run. A dropped connection resumes after the last line seen: no line twice, none lost.
   */
  followLogs(id: string, options: FollowOptions = {}): AsyncGenerator<LogEvent<LogLine, "run", RunInfo>> {
    return followLog(this.workspace, routePath(R.runLogs, { id }), {
      ...options,
      what: `the log stream of run ${id}`,
      end: "run",
    });
  }

  async metrics(id: string): Promise<MetricPoint[]> {
    return (await this.workspace.call(R.runMetrics, { params: { id } })).items;
  }

  artifact(id: string, path: string): Promise<Uint8Array> {
    return this.workspace.call(R.runArtifact, { params: { id }, query: { path } });
  }

  cancel(id: string): Promise<RunInfo> {
    return this.workspace.call(R.cancelRun, { params: { id } });
  }

  registerModel(body: M.RegisterModelInput): Promise<M.ModelRegistered> {
    return this.workspace.call(M.registerModel, { body });
  }

  getModel(name: string, version?: number): Promise<ModelInfo> {
    return this.workspace.call(M.getModel, { params: { name }, query: { version } });
  }

  /** The bytes of one file of a model version (a path from its `files`). */
  modelFile(name: string, version: number, path: string): Promise<Uint8Array> {
    return this.workspace.call(M.downloadModelFile, {
      params: { name, version: String(version) },
      query: { path },
    });
  }

  async listModels(name?: string): Promise<ModelInfo[]> {
    return (await this.workspace.call(M.listModels, { query: { name } })).items;
  }

  deploy(body: Sv.DeployInput): Promise<ServiceInfo> {
    return this.workspace.call(Sv.deployService, { body });
  }

  getService(name: string): Promise<ServiceInfo> {
    return this.workspace.call(Sv.getService, { params: { name } });
  }

  async listServices(): Promise<ServiceInfo[]> {
    return (await this.workspace.call(Sv.listServices)).items;
  }

  serviceLogs(name: string, after = 0): Promise<{ items: LogLine[]; status: ServiceStatus; next: number }> {
    return this.workspace.call(Sv.serviceLogs, { params: { name }, query: { after } });
  }

  /**
   * A service's output as it is written (server-sent events): every line after `after`; when the
   * service fails or is deleted, its final state. Resumes after a dropped connection like
   * {@link followLogs}.
   */
  followServiceLogs(
    name: string,
    options: FollowOptions = {},
  ): AsyncGenerator<LogEvent<LogLine, "service", ServiceInfo>> {
    return followLog(this.workspace, routePath(Sv.serviceLogs, { name }), {
      ...options,
      what: `the log stream of service ${name}`,
      end: "service",
    });
  }

  /**
   * Score through the server (`POST /api/v1/services/:name/score`), for callers that cannot reach
   * the worker's loopback port: the worker's HTTP status and JSON answer (e.g. 500
   * `{"error": ...}`). The server's own refusals (409 not healthy, 502 no answer, 404) throw.
   */
  async scoreService(name: string, input: unknown): Promise<{ status: number; body: unknown }> {
    const ws = this.workspace;
    const path = routePath(Sv.scoreService, { name });
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (ws.token) headers.authorization = `Bearer ${ws.token}`;
    let res: Response;
    try {
      res = await ws.fetch(ws.url + path, {
        method: "POST",
        headers,
        body: typeof input === "string" ? input : JSON.stringify(input),
      });
    } catch (cause) {
      throw new MlenvError(
        SdkErrorCodes.network,
        `Expected an mlenv server at ${ws.url}; POST ${path} failed`,
        { cause },
      );
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (cause) {
      throw new MlenvError(
        SdkErrorCodes.badResponse,
        `Expected JSON from POST ${path}; received ${preview(text)}`,
        { cause, status: res.status },
      );
    }
    const e = body as { code?: unknown; message?: unknown; details?: unknown };
    if (!res.ok && typeof e?.code === "string" && e.code.startsWith("E_") && typeof e.message === "string") {
      throw new MlenvError(e.code, e.message, { status: res.status, details: e.details });
    }
    return { status: res.status, body };
  }

  async deleteService(name: string): Promise<void> {
    await this.workspace.call(Sv.deleteService, { params: { name } });
  }
}

/** Options of {@link Run.waitForCompletion}: `showOutput` streams the run's output. */
export interface WaitOptions extends LogWaitOptions {
  /** Unused: the output is streamed (server-sent events), not polled. Kept for callers that pass it. */
  pollMs?: number;
  /** Throw `E_RUN_FAILED` when the run ends Failed or Canceled (default true, as the reference). */
  raiseOnError?: boolean;
}

/** A training run: its status, output, metrics, artifacts and the exact environment it used. */
export class Run {
  readonly #client: RunsClient;
  info: RunInfo;

  constructor(workspace: Workspace, info: RunInfo) {
    this.#client = new RunsClient(workspace);
    this.info = info;
  }

  get id(): string {
    return this.info.id;
  }

  get status(): RunStatus {
    return this.info.status;
  }

  /** A run by id. */
  static async get(workspace: Workspace, id: string): Promise<Run> {
    return new Run(workspace, await new RunsClient(workspace).get(id));
  }

  /** Runs of the workspace (newest first), optionally of one experiment. */
  static async list(workspace: Workspace, options: { experiment?: string } = {}): Promise<Run[]> {
    return (await new RunsClient(workspace).list(options)).map((r) => new Run(workspace, r));
  }

  async refresh(): Promise<Run> {
    this.info = await this.#client.get(this.id);
    return this;
  }

  /** The environment version (and lock, when one was given) the run used, exactly. */
  async getEnvironment(): Promise<RunEnvironmentInfo & { environment: Environment }> {
    const env = this.info.environment;
    return {
      ...env,
      environment: Environment.fromDefinition({ ...env.definition, version: String(env.version) }),
    };
  }

  /** Metrics by name, values in logged order. */
  async getMetrics(): Promise<Record<string, unknown[]>> {
    const out: Record<string, unknown[]> = {};
    for (const m of await this.#client.metrics(this.id)) {
      const values = out[m.name] ?? [];
      values.push(m.value);
      out[m.name] = values;
    }
    return out;
  }

  /** Output lines after sequence number `after`. */
  getLogs(after = 0): Promise<{ items: LogLine[]; status: RunStatus; next: number }> {
    return this.#client.logs(this.id, after);
  }

  /** Paths of files the script wrote under ./outputs. */
  getFileNames(): string[] {
    return this.info.artifacts.map((a) => a.path);
  }

  /** The bytes of an artifact, e.g. `outputs/model.json`. */
  downloadFile(path: string): Promise<Uint8Array> {
    return this.#client.artifact(this.id, path);
  }

  async cancel(): Promise<Run> {
    this.info = await this.#client.cancel(this.id);
    return this;
  }

  /** Wait for a final status, optionally streaming output (`showOutput`, as the reference). */
  async waitForCompletion(options: WaitOptions = {}): Promise<Run> {
    // the log stream ends with the final run: no polling
    await waitForLogEnd((signal) => this.#client.followLogs(this.id, { signal }), {
      ...options,
      show: (e) => (e.line.stream === "system" ? `[mlenv] ${e.line.text}` : e.line.text),
      onEvent: (e) => {
        if (e.type === "end") this.info = e.run;
      },
      timeoutMessage: () =>
        `Expected run ${this.id} to finish within ${options.timeoutMs} ms; it is ${this.info.status}`,
    });
    await this.refresh();
    if ((options.raiseOnError ?? true) && this.info.status !== "completed") {
      throw new MlenvError(
        SdkErrorCodes.runFailed,
        `Run ${this.id} ended ${this.info.status}${this.info.exitCode !== null ? ` (exit code ${this.info.exitCode})` : ""}: ${this.info.error?.message ?? ""}`.trim(),
        {
          details: {
            run: this.id,
            status: this.info.status,
            exitCode: this.info.exitCode,
            error: this.info.error,
          },
        },
      );
    }
    return this;
  }

  /** Register an artifact (file or folder, e.g. `outputs/model.json`) as a model version. */
  async registerModel(name: string, path: string, options: { description?: string } = {}): Promise<Model> {
    const res = await this.#client.registerModel({
      name,
      runId: this.id,
      path,
      ...(options.description !== undefined ? { description: options.description } : {}),
    });
    return new Model(this.#client.workspace, res.model, res.created);
  }
}

/** A registered model version (files versioned like environments: same files, same version). */
export class Model {
  constructor(
    readonly workspace: Workspace,
    readonly info: ModelInfo,
    /** False when identical files were already registered under this name. */
    readonly created?: boolean,
  ) {}

  get name(): string {
    return this.info.name;
  }

  get version(): number {
    return this.info.version;
  }

  /** Register files (e.g. a local model file read into bytes) as a model version. */
  static async register(
    workspace: Workspace,
    options: { name: string; files: SnapshotFile[]; description?: string },
  ): Promise<Model> {
    if (options.files.length === 0) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected at least one model file; received none for ${preview(options.name)}`,
      );
    }
    const res = await new RunsClient(workspace).registerModel({
      name: options.name,
      files: encodeFiles(options.files),
      ...(options.description !== undefined ? { description: options.description } : {}),
    });
    return new Model(workspace, res.model, res.created);
  }

  /** The latest version, or a given one. */
  static async get(workspace: Workspace, name: string, version?: number): Promise<Model> {
    return new Model(workspace, await new RunsClient(workspace).getModel(name, version));
  }

  /**
   * The model's files as bytes (the reference's `Model.download`), each under its path; Node's
   * `writeFileSync(join(dir, f.path), f.content)` saves them.
   */
  async download(): Promise<SnapshotFile[]> {
    const client = new RunsClient(this.workspace);
    const out: SnapshotFile[] = [];
    for (const f of this.info.files) {
      out.push({ path: f.path, content: await client.modelFile(this.name, this.version, f.path) });
    }
    return out;
  }

  /** The latest version of each model (or every version of `name`). */
  static async list(workspace: Workspace, name?: string): Promise<Model[]> {
    return (await new RunsClient(workspace).listModels(name)).map((m) => new Model(workspace, m));
  }
}

/** An entry script (`init()`, `run(raw_data)`) in its source directory, with the environment to serve in. */
export class InferenceConfig {
  readonly entryScript: string;
  readonly sourceDirectory: string;
  readonly environment: EnvironmentRef | undefined;

  constructor(options: { entryScript: string; sourceDirectory?: string; environment?: EnvironmentRef }) {
    this.entryScript = options.entryScript;
    this.sourceDirectory = options.sourceDirectory ?? ".";
    this.environment = options.environment;
  }
}

/**
 * Where and how to serve: `local` runs a venv worker, `docker` a host-network container of the
 * environment's image; both listen on 127.0.0.1. `cpuCores` (0.01 to 1024, at most the host's
 * CPUs on docker) and `memoryGb` (GB of 2^30 bytes, 0.01 to 1024) are container limits on the
 * docker target; the local target records them without enforcing them
 * (`ServiceInfo.limitsEnforced` says which).
 */
export interface DeploymentConfig {
  target?: "local" | "docker";
  cpuCores?: number;
  memoryGb?: number;
  /** GPUs the service holds while it lives (fails at deploy when the machine has fewer). */
  gpus?: number;
  shareGpus?: boolean;
}

/** A deployed web service. */
export class Webservice {
  readonly #client: RunsClient;
  info: ServiceInfo;

  constructor(workspace: Workspace, info: ServiceInfo) {
    this.#client = new RunsClient(workspace);
    this.info = info;
  }

  get name(): string {
    return this.info.name;
  }

  /**
   * The server's scoring route (`<server>/api/v1/services/<name>/score`, with `Authorization:
   * Bearer <token>` of the workspace), or null before the worker listens. The worker's own port
   * (`info.url`) answers /score only to the server, which adds the service's token.
   */
  get scoringUri(): string | null {
    return this.info.url
      ? `${this.#client.workspace.url}${routePath(Sv.scoreService, { name: this.name })}`
      : null;
  }

  static async get(workspace: Workspace, name: string): Promise<Webservice> {
    return new Webservice(workspace, await new RunsClient(workspace).getService(name));
  }

  static async list(workspace: Workspace): Promise<Webservice[]> {
    return (await new RunsClient(workspace).listServices()).map((s) => new Webservice(workspace, s));
  }

  async refresh(): Promise<Webservice> {
    this.info = await this.#client.getService(this.name);
    return this;
  }

  /** Wait until the service is healthy; throws `E_RUN_FAILED` with the service's error when it failed. */
  async waitForDeployment(options: { timeoutMs?: number; pollMs?: number } = {}): Promise<Webservice> {
    const end = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    for (;;) {
      await this.refresh();
      if (this.info.status === "healthy") return this;
      if (this.info.status === "failed") {
        throw new MlenvError(
          SdkErrorCodes.runFailed,
          `Service ${this.name} failed: ${this.info.error?.message ?? "no message"}`,
          {
            details: { service: this.name, error: this.info.error },
          },
        );
      }
      if (Date.now() > end) {
        throw new MlenvError(
          SdkErrorCodes.timeout,
          `Expected service ${this.name} to be healthy in time; it is ${this.info.status}`,
        );
      }
      await sleep(options.pollMs ?? 250);
    }
  }

  /**
   * Score through the server (the worker answers only requests carrying the service's token,
   * which the server adds) and return the parsed JSON answer (errors keep the service's message).
   */
  async run(input: unknown): Promise<unknown> {
    if (!this.info.url) await this.waitForDeployment();
    const { status, body } = await this.#client.scoreService(this.name, input);
    if (status >= 400) {
      const message = (body as { error?: unknown })?.error;
      throw new MlenvError(
        SdkErrorCodes.http,
        `Service ${this.name} answered HTTP ${status}: ${preview(message ?? body)}`,
        { status, details: body },
      );
    }
    return body;
  }

  /** The worker's output (and mlenv's notes), all of it or after a sequence number. */
  async getLogs(after = 0): Promise<LogLine[]> {
    return (await this.#client.serviceLogs(this.name, after)).items;
  }

  async delete(): Promise<void> {
    await this.#client.deleteService(this.name);
  }
}

/** A script run configuration: what to run (source directory, script, arguments), where, and in which environment. */
export class ScriptRunConfig {
  sourceDirectory: string;
  script: string;
  /** Strings, or datastore arguments (`ds.asMount()`), resolved where the run executes. */
  arguments: (string | DatastoreArgument)[];
  /** `local`, `docker` or an attached compute target's name (e.g. a Slurm cluster). */
  computeTarget: string;
  environment: EnvironmentRef | undefined;
  /** A lock of the environment's definition (exact versions): the run installs from it. */
  lock: unknown;
  /** Resources on a compute target (nodes, tasks, memory, time...); a distributed config adds nodes and tasks. */
  resources: RunResources | undefined;
  /** GPUs the run needs (0: none); it waits until that many are free. */
  gpus: number;
  /** Let the run's GPUs be shared with other runs that also share. */
  shareGpus: boolean;
  /**
   * Network access for the run's code. Default false: a docker run's container has no network
   * and a local run its own empty network namespace (where the server can make one).
   */
  network: boolean;

  constructor(options: {
    sourceDirectory?: string;
    script: string;
    arguments?: (string | number | DatastoreArgument)[];
    computeTarget?: string;
    environment?: EnvironmentRef;
    lock?: unknown;
    resources?: RunResources;
    /** The reference's `distributed_job_config`: tasks started with srun with their ranks. */
    distributedJobConfig?: PyTorchConfiguration | MpiConfiguration;
    gpus?: number;
    shareGpus?: boolean;
    network?: boolean;
  }) {
    this.gpus = options.gpus ?? 0;
    this.shareGpus = options.shareGpus ?? false;
    this.network = options.network ?? false;
    this.sourceDirectory = options.sourceDirectory ?? ".";
    this.script = options.script;
    this.arguments = (options.arguments ?? []).map((a) => (typeof a === "object" ? a : String(a)));
    this.computeTarget = options.computeTarget ?? "local";
    this.environment = options.environment;
    this.lock = options.lock;
    const dist = options.distributedJobConfig?.resources();
    this.resources = options.resources || dist ? { ...options.resources, ...dist } : undefined;
  }
}

/**
 * The reference's estimator shorthand: a script, a target and conda/pip package lists that make an
 * anonymous environment (registered at submit as `<experiment>-estimator-env` unless `environmentName`).
 */
export class Estimator extends ScriptRunConfig {
  constructor(options: {
    sourceDirectory?: string;
    entryScript: string;
    scriptParams?: (string | number)[];
    computeTarget?: string;
    condaPackages?: string[];
    pipPackages?: string[];
    pipOptions?: string[];
    pythonVersion?: string;
    environmentName?: string;
  }) {
    const env = new Environment(options.environmentName ?? "estimator-env");
    env.python.condaDependencies = CondaDependencies.create({
      ...(options.pythonVersion !== undefined ? { pythonVersion: options.pythonVersion } : {}),
      condaPackages: options.condaPackages ?? [],
      pipPackages: options.pipPackages ?? [],
      pipOptions: options.pipOptions ?? [],
    });
    super({
      script: options.entryScript,
      arguments: options.scriptParams ?? [],
      environment: env,
      ...(options.sourceDirectory !== undefined ? { sourceDirectory: options.sourceDirectory } : {}),
      ...(options.computeTarget !== undefined ? { computeTarget: options.computeTarget } : {}),
    });
  }
}

/** Reads a source directory into snapshot files (Node: `snapshotDirectory` from `@mlenv/sdk/node`). */
export type SourceReader = (directory: string) => SnapshotFile[] | Promise<SnapshotFile[]>;

/** An experiment: a named group of runs. `submit` snapshots the source directory and starts a run. */
export class Experiment {
  constructor(
    readonly workspace: Workspace,
    readonly name: string,
    readonly options: { readSource?: SourceReader } = {},
  ) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/.test(name)) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected an experiment name of 1-255 characters [A-Za-z0-9._-], e.g. "train-demo"; received ${preview(name)}`,
      );
    }
  }

  async submit(config: ScriptRunConfig): Promise<Run> {
    const read = this.options.readSource;
    if (!read) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        "Expected a readSource function to snapshot the source directory; in Node use Experiment from @mlenv/sdk/node",
      );
    }
    const client = new RunsClient(this.workspace);
    const snap = await client.uploadSnapshot(await read(config.sourceDirectory));
    let environment = config.environment;
    if (
      config instanceof Estimator &&
      environment instanceof Environment &&
      environment.name === "estimator-env"
    ) {
      environment = environment.clone(`${this.name}-estimator-env`);
    }
    const info = await client.submit({
      experiment: this.name,
      script: config.script,
      snapshot: snap.id,
      arguments: config.arguments,
      target: config.computeTarget,
      ...(config.resources ? { resources: config.resources } : {}),
      environment: environmentChoice(environment),
      ...(config.lock !== undefined ? { lock: config.lock } : {}),
      ...(config.gpus > 0 ? { gpus: config.gpus, shareGpus: config.shareGpus } : {}),
      ...(config.network ? { network: true } : {}),
    });
    return new Run(this.workspace, info);
  }
}

function limitsOf(c: DeploymentConfig | undefined): {
  deploymentConfig?: { cpuCores?: number; memoryGb?: number; gpus?: number; shareGpus?: boolean };
} {
  if (c?.cpuCores === undefined && c?.memoryGb === undefined && c?.gpus === undefined) return {};
  return {
    deploymentConfig: {
      ...(c.cpuCores !== undefined ? { cpuCores: c.cpuCores } : {}),
      ...(c.memoryGb !== undefined ? { memoryGb: c.memoryGb } : {}),
      ...(c.gpus !== undefined ? { gpus: c.gpus, shareGpus: c.shareGpus ?? false } : {}),
    },
  };
}

/** What {@link deploy} deploys: one model, its inference configuration and where it runs. */
export interface DeployOptions {
  name: string;
  models: Model[];
  inferenceConfig: InferenceConfig;
  deploymentConfig?: DeploymentConfig;
  /** Reads the inference configuration's source directory. */
  readSource: SourceReader;
}

/** Deploy models as a web service with an inference configuration (the reference's `Model.deploy`). */
export async function deploy(workspace: Workspace, options: DeployOptions): Promise<Webservice> {
  const [model, ...rest] = options.models;
  if (!model || rest.length > 0) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected exactly one model (the local target serves one model per service); received ${options.models.length}`,
    );
  }
  const client = new RunsClient(workspace);
  const snap = await client.uploadSnapshot(await options.readSource(options.inferenceConfig.sourceDirectory));
  const info = await client.deploy({
    name: options.name,
    ...(options.deploymentConfig?.target ? { target: options.deploymentConfig.target } : {}),
    ...limitsOf(options.deploymentConfig),
    model: { name: model.name, version: model.version },
    entryScript: options.inferenceConfig.entryScript,
    snapshot: snap.id,
    environment: environmentChoice(options.inferenceConfig.environment),
  });
  return new Webservice(workspace, info);
}
