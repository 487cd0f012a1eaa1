import { type BuildContextFiles, contextTar } from "./buildContext";
import { type BuildLogLine, BuildLogTracker } from "./buildLog";
import { type DockerEndpoint, describeEndpoint, parseDockerHost } from "./endpoint";
import { cut, DockerError, DockerErrorCode } from "./errors";
import { parseImageReference } from "./reference";
import {
  type DockerRequest,
  type DockerResponse,
  expectOk,
  readJson,
  readJsonLines,
  readText,
  sendRequest,
} from "./transport";

/** Credentials for a registry, sent only in the `X-Registry-Auth` header (never logged). */
export interface RegistryAuth {
  username: string;
  password: string;
  /** Registry address, e.g. `127.0.0.1:5000`. */
  serveraddress?: string;
}

export interface DockerClientOptions {
  /** A `DOCKER_HOST` value; defaults to `process.env.DOCKER_HOST`, then the default socket. */
  host?: string;
  /** An already-parsed endpoint (wins over `host`). */
  endpoint?: DockerEndpoint;
}

/** Cancellation and time limit of one operation. */
export interface OperationOptions {
  signal?: AbortSignal;
  /** Milliseconds before the operation fails with E_DOCKER_TIMEOUT. */
  timeoutMs?: number;
}

export interface BuildImageOptions extends OperationOptions {
  /** File path → bytes; must hold the Dockerfile. */
  context: BuildContextFiles;
  /** More context files read from this machine while the context is sent: context path → file path. */
  contextFiles?: Record<string, string>;
  /** Image references to tag the result with. */
  tags?: string[];
  dockerfile?: string;
  labels?: Record<string, string>;
  buildArgs?: Record<string, string>;
  /** Ignore the engine's layer cache. */
  noCache?: boolean;
  /**
   * Credentials per registry address for pulling base images (`X-Registry-Config`); they reach
   * the engine only in that header, never the context, build args, image or log.
   */
  registryAuth?: Record<string, RegistryAuth>;
  /** Every output line, tagged with its step, as it arrives. */
  onLog?: (line: BuildLogLine) => void;
}

export interface BuildImageResult {
  /** `sha256:...` image id. */
  imageId: string;
  /** The Dockerfile steps the engine ran, with whether each came from its layer cache. */
  steps: { index: number; instruction: string; cached: boolean }[];
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: string;
  Size: number;
  Config: { Labels: Record<string, string> | null; Env: string[] | null; Cmd: string[] | null } | null;
  RootFS: { Type: string; Layers?: string[] };
}

export interface ImageHistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export interface PushImageOptions extends OperationOptions {
  auth?: RegistryAuth;
  onProgress?: (line: string) => void;
}

export interface ContainerSpec {
  image: string;
  cmd: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  workingDir?: string;
  name?: string;
  /** CPU limit in cores, e.g. 0.5 (`HostConfig.NanoCpus`); 0.01 to 1024, at most the host's CPUs. */
  cpus?: number;
  /** Memory limit in bytes (`HostConfig.Memory`); an integer from 6 MiB (the engine's minimum) to 1 PiB. */
  memoryBytes?: number;
  /**
   * GPU indices handed to the container through the Engine API's device requests
   * (`HostConfig.DeviceRequests`, driver "nvidia", as `docker run --gpus device=0,1`).
   */
  gpuDeviceIds?: number[];
  /**
   * `none` (the default): the container has only its own loopback, no route anywhere. `host`:
   * the host's network stack (the engine runs without a bridge, so these are the only two).
   */
  network?: "none" | "host";
  /**
   * Host paths bind-mounted into the container (`HostConfig.Binds`): absolute on both sides,
   * e.g. a unix socket the server listens on.
   */
  mounts?: { source: string; target: string; readOnly?: boolean }[];
}

/** `HostConfig.DeviceRequests` asking the NVIDIA driver for these GPU indices (none when empty). */
export function gpuDeviceRequests(
  ids: readonly number[] | undefined,
): { Driver: string; DeviceIDs: string[]; Capabilities: string[][] }[] {
  if (!ids || ids.length === 0) return [];
  for (const i of ids) {
    if (!Number.isSafeInteger(i) || i < 0 || i > 4095)
      throw new DockerError(DockerErrorCode.API, `Expected GPU indices 0-4095; received ${cut(String(i))}`);
  }
  return [{ Driver: "nvidia", DeviceIDs: ids.map(String), Capabilities: [["gpu"]] }];
}

/** The part of a container's inspect answer mlenv reads. */
export interface ContainerInspect {
  Id: string;
  Config: { Labels: Record<string, string> | null } | null;
  HostConfig: {
    NetworkMode?: string;
    NanoCpus?: number;
    Memory?: number;
    DeviceRequests?: { Driver?: string; DeviceIDs?: string[] | null }[] | null;
  } | null;
  State: { Status: string; Running: boolean } | null;
}

const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
const MAX_MEMORY_BYTES = 2 ** 50;

/** `HostConfig` limits of a spec, checked: positive, finite, within sane bounds. */
export function containerLimits(spec: Pick<ContainerSpec, "cpus" | "memoryBytes">): {
  NanoCpus?: number;
  Memory?: number;
} {
  const out: { NanoCpus?: number; Memory?: number } = {};
  if (spec.cpus !== undefined) {
    if (
      typeof spec.cpus !== "number" ||
      !Number.isFinite(spec.cpus) ||
      spec.cpus < 0.01 ||
      spec.cpus > 1024
    ) {
      throw new DockerError(
        DockerErrorCode.API,
        `Expected a CPU limit in cores from 0.01 to 1024, e.g. 0.5; received ${cut(String(spec.cpus))}`,
      );
    }
    out.NanoCpus = Math.round(spec.cpus * 1e9);
  }
  if (spec.memoryBytes !== undefined) {
    const m = spec.memoryBytes;
    if (!Number.isSafeInteger(m) || m < MIN_MEMORY_BYTES || m > MAX_MEMORY_BYTES) {
      throw new DockerError(
        DockerErrorCode.API,
        `Expected a memory limit as whole bytes from ${MIN_MEMORY_BYTES} (6 MiB) to ${MAX_MEMORY_BYTES}, e.g. 268435456; received ${cut(String(m))}`,
      );
    }
    out.Memory = m;
  }
  return out;
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * A Docker Engine API client over node:http: the unix socket by default, `DOCKER_HOST` honoured
 * (`unix://` and `tcp://`). Builds use host networking; containers get none unless they ask
 * for the host's (the engine runs without a bridge).
 */
export class DockerClient {
  readonly endpoint: DockerEndpoint;

  constructor(options: DockerClientOptions = {}) {
    this.endpoint = options.endpoint ?? parseDockerHost(options.host ?? process.env.DOCKER_HOST);
  }

  /** e.g. `unix:///var/run/docker.sock`. */
  get address(): string {
    return describeEndpoint(this.endpoint);
  }

  /**
   * Send one request of an operation with the operation's signal (its `signal` and `timeoutMs`);
   * the same signal is returned for reading the answer.
   */
  async #request(
    options: OperationOptions,
    req: Omit<DockerRequest, "signal">,
  ): Promise<{ res: DockerResponse; signal: AbortSignal | undefined }> {
    const signal = operationSignal(options);
    const res = await sendRequest(this.endpoint, { ...req, ...(signal ? { signal } : {}) });
    return { res, signal };
  }

  /** DELETE an engine object (`what` names it in errors); false when the engine has no such object. */
  async #remove(
    what: string,
    request: Pick<DockerRequest, "path" | "query">,
    options: OperationOptions,
  ): Promise<boolean> {
    const { res, signal } = await this.#request(options, { method: "DELETE", ...request });
    if (res.status === 404) {
      res.body.resume();
      return false;
    }
    await expectOk(res, what, signal);
    res.body.resume();
    return true;
  }

  /** Resolves when the engine answers `/_ping` with OK. */
  async ping(options: OperationOptions = {}): Promise<void> {
    const { res, signal } = await this.#request(options, { method: "GET", path: "/_ping" });
    const text = await readTextOk(res, "ping", signal);
    if (text.trim() !== "OK") {
      throw new DockerError(
        DockerErrorCode.API,
        `ping: expected "OK" from the engine, received ${cut(text)}`,
      );
    }
  }

  /** Engine version, API version, OS and architecture. */
  async version(
    options: OperationOptions = {},
  ): Promise<{ Version: string; ApiVersion: string; Os: string; Arch: string; KernelVersion?: string }> {
    const { res, signal } = await this.#request(options, { method: "GET", path: "/version" });
    return readJson(res, "version", signal);
  }

  /** The engine's container runtimes (`GET /info` `Runtimes`): `runc`, and `nvidia` with the NVIDIA Container Toolkit. */
  async runtimes(options: OperationOptions = {}): Promise<string[]> {
    const { res, signal } = await this.#request(options, { method: "GET", path: "/info" });
    const info = await readJson<{ Runtimes?: Record<string, unknown> | null }>(res, "info", signal);
    return Object.keys(info.Runtimes ?? {}).sort();
  }

  /**
   * Build an image from an in-memory context with the classic builder and host networking.
   * Throws DockerBuildError (code E_DOCKER_BUILD_FAILED) naming the failed step and its output.
   */
  async buildImage(options: BuildImageOptions): Promise<BuildImageResult> {
    const tags = options.tags ?? [];
    for (const t of tags) parseImageReference(t);
    const dockerfile = options.dockerfile ?? "Dockerfile";
    if (!(dockerfile in options.context)) {
      throw new DockerError(
        DockerErrorCode.CONTEXT_INVALID,
        `the build context must hold the Dockerfile ${cut(dockerfile)}; received files ${cut(Object.keys(options.context).join(", "))}`,
      );
    }
    checkStringMap("label", options.labels);
    checkStringMap("build argument", options.buildArgs);
    const body = contextTar(options.context, options.contextFiles);
    const query: DockerRequest["query"] = {
      dockerfile,
      networkmode: "host",
      rm: true,
      forcerm: true,
      version: "1",
      nocache: options.noCache ?? false,
      ...(options.labels ? { labels: JSON.stringify(options.labels) } : {}),
      ...(options.buildArgs ? { buildargs: JSON.stringify(options.buildArgs) } : {}),
    };
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: "/build",
      query: { ...query, t: tags },
      body: { stream: body, type: "application/x-tar" },
      ...(options.registryAuth
        ? { headers: { "x-registry-config": encodeRegistryConfig(options.registryAuth) } }
        : {}),
    });
    await expectOk(res, "image build", signal);
    const tracker = new BuildLogTracker(options.onLog);
    await readJsonLines(res, (m) => tracker.handle(m), signal);
    tracker.end();
    const failure = tracker.failure();
    if (failure) throw failure;
    if (!tracker.imageId) {
      throw new DockerError(
        DockerErrorCode.API,
        "image build: the engine ended the build without an image id",
      );
    }
    return { imageId: tracker.imageId, steps: tracker.steps };
  }

  /** The image's details, or null when the engine has no such image. */
  async inspectImage(ref: string, options: OperationOptions = {}): Promise<ImageInspect | null> {
    const name = imageName(ref);
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: `/images/${name}/json`,
    });
    if (res.status === 404) {
      res.body.resume();
      return null;
    }
    return readJson<ImageInspect>(res, `inspect image ${ref}`, signal);
  }

  /** The image's layers, newest first, with the instruction that created each. */
  async imageHistory(ref: string, options: OperationOptions = {}): Promise<ImageHistoryEntry[]> {
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: `/images/${imageName(ref)}/history`,
    });
    return readJson(res, `history of image ${ref}`, signal);
  }

  /**
   * Remove dangling images (untagged, no children: what failed and cancelled builds leave behind)
   * created at or after `since`; images in use or removed meanwhile are skipped. Returns the ids removed.
   */
  async pruneDanglingImages(options: OperationOptions & { since?: Date } = {}): Promise<string[]> {
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: "/images/json",
      query: { filters: JSON.stringify({ dangling: ["true"] }) },
    });
    const list = await readJson<{ Id: string; Created: number }[]>(res, "list dangling images", signal);
    const since = options.since ? Math.floor(options.since.getTime() / 1000) : 0;
    const removed: string[] = [];
    for (const image of list) {
      if (image.Created < since) continue;
      if (await this.removeImage(image.Id, signal ? { signal } : {}).catch(() => false))
        removed.push(image.Id);
    }
    return removed;
  }

  /** Tag `source` (a reference or image id) as `target` (`repo:tag`). */
  async tagImage(source: string, target: string, options: OperationOptions = {}): Promise<void> {
    const t = parseImageReference(target);
    if (t.digest) {
      throw new DockerError(
        DockerErrorCode.REFERENCE_INVALID,
        `a tag target cannot hold a digest; received ${cut(target)}`,
      );
    }
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: `/images/${imageName(source)}/tag`,
      query: { repo: t.repository, tag: t.tag ?? "latest" },
    });
    await expectOk(res, `tag ${source} as ${target}`, signal);
    res.body.resume();
  }

  /** Remove an image (or one of its tags). Resolves false when there was no such image. */
  async removeImage(ref: string, options: OperationOptions & { force?: boolean } = {}): Promise<boolean> {
    const query = { force: options.force ?? false };
    return this.#remove(`remove image ${ref}`, { path: `/images/${imageName(ref)}`, query }, options);
  }

  /** Push `repo:tag` to its registry; resolves with the manifest digest the registry stored. */
  async pushImage(
    ref: string,
    options: PushImageOptions = {},
  ): Promise<{ digest: string; size: number | null }> {
    const r = parseImageReference(ref);
    if (r.digest) {
      throw new DockerError(
        DockerErrorCode.REFERENCE_INVALID,
        `push needs repo:tag, not a digest; received ${cut(ref)}`,
      );
    }
    const tag = r.tag ?? "latest";
    const auth = options.auth ? encodeAuth(options.auth) : encodeAuth({});
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: `/images/${encodeRepository(r.repository)}/push`,
      query: { tag },
      headers: { "x-registry-auth": auth },
    });
    await expectOk(res, `push ${ref}`, signal);
    let digest: string | null = null;
    let size: number | null = null;
    let error: string | null = null;
    await readJsonLines(
      res,
      (m) => {
        const aux = m.aux as { Digest?: unknown; Size?: unknown } | undefined;
        if (aux && typeof aux.Digest === "string") {
          digest = aux.Digest;
          size = typeof aux.Size === "number" ? aux.Size : null;
        }
        if (typeof m.error === "string") error = m.error;
        if (options.onProgress && typeof m.status === "string") {
          options.onProgress(`${typeof m.id === "string" ? `${m.id}: ` : ""}${m.status}`);
        }
      },
      signal,
    );
    if (error !== null) {
      throw new DockerError(DockerErrorCode.PUSH_FAILED, `push ${ref} failed: ${cut(error)}`);
    }
    if (digest === null) {
      throw new DockerError(DockerErrorCode.PUSH_FAILED, `push ${ref}: the engine reported no digest`);
    }
    return { digest, size };
  }

  /** Create a container (no network unless `spec.network` is `host`); resolves with its id. */
  async createContainer(spec: ContainerSpec, options: OperationOptions = {}): Promise<string> {
    imageName(spec.image);
    checkStringMap("label", spec.labels);
    const env = Object.entries(spec.env ?? {}).map(([k, v]) => {
      if (!ENV_NAME.test(k) || v.includes("\0")) {
        throw new DockerError(
          DockerErrorCode.API,
          `environment variable names must match ${ENV_NAME} (e.g. MY_VAR) and values hold no NUL; received ${cut(k)}`,
        );
      }
      return `${k}=${v}`;
    });
    if (spec.name !== undefined && !CONTAINER_ID.test(spec.name)) {
      throw new DockerError(
        DockerErrorCode.API,
        `container names match ${CONTAINER_ID}; received ${cut(spec.name)}`,
      );
    }
    const limits = containerLimits(spec);
    const devices = gpuDeviceRequests(spec.gpuDeviceIds);
    const binds = (spec.mounts ?? []).map((m) => {
      const ok = (p: string) => p.startsWith("/") && !/[:,\0\n]/.test(p);
      if (!ok(m.source) || !ok(m.target)) {
        throw new DockerError(
          DockerErrorCode.API,
          `mounts take absolute paths without ':', ',' or control characters (e.g. /run/mlenv.sock); received ${cut(`${m.source} -> ${m.target}`)}`,
        );
      }
      return `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`;
    });
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: "/containers/create",
      query: { name: spec.name },
      body: {
        json: {
          Image: spec.image,
          Cmd: spec.cmd,
          Env: env,
          Labels: spec.labels ?? {},
          WorkingDir: spec.workingDir ?? "",
          AttachStdout: true,
          AttachStderr: true,
          Tty: false,
          HostConfig: {
            NetworkMode: spec.network ?? "none",
            ...(binds.length ? { Binds: binds } : {}),
            ...limits,
            ...(devices.length ? { DeviceRequests: devices } : {}),
          },
        },
      },
    });
    const created = await readJson<{ Id: string }>(res, `create a container from ${spec.image}`, signal);
    return created.Id;
  }

  /** A container's inspect answer, or null when there is no such container. */
  async inspectContainer(id: string, options: OperationOptions = {}): Promise<ContainerInspect | null> {
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: `/containers/${containerId(id)}/json`,
    });
    if (res.status === 404) {
      res.body.resume();
      return null;
    }
    return readJson(res, `inspect container ${id}`, signal);
  }

  /** Ids of the containers (running or not) carrying a label with this value. */
  async containersWithLabel(key: string, value: string, options: OperationOptions = {}): Promise<string[]> {
    checkStringMap("label", { [key]: value });
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: "/containers/json",
      query: { all: true, filters: JSON.stringify({ label: [`${key}=${value}`] }) },
    });
    const items = await readJson<{ Id: string }[]>(res, "list containers", signal);
    return items.map((c) => c.Id);
  }

  async startContainer(id: string, options: OperationOptions = {}): Promise<void> {
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: `/containers/${containerId(id)}/start`,
    });
    await expectOk(res, `start container ${id}`, signal);
    res.body.resume();
  }

  /** Wait for the container to stop; resolves with its exit code. */
  async waitContainer(id: string, options: OperationOptions = {}): Promise<number> {
    const { res, signal } = await this.#request(options, {
      method: "POST",
      path: `/containers/${containerId(id)}/wait`,
    });
    const out = await readJson<{ StatusCode: number; Error?: { Message?: string } | null }>(
      res,
      `wait for container ${id}`,
      signal,
    );
    return out.StatusCode;
  }

  /** The container's stdout and stderr so far (demultiplexed). */
  async containerLogs(
    id: string,
    options: OperationOptions = {},
  ): Promise<{ stdout: string; stderr: string }> {
    const { res, signal } = await this.#request(options, {
      method: "GET",
      path: `/containers/${containerId(id)}/logs`,
      query: { stdout: true, stderr: true },
    });
    await expectOk(res, `logs of container ${id}`, signal);
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    return demultiplex(Buffer.concat(chunks));
  }

  /** Remove a container (forcefully, with its anonymous volumes). False when it did not exist. */
  async removeContainer(id: string, options: OperationOptions = {}): Promise<boolean> {
    const query = { force: true, v: true };
    return this.#remove(`remove container ${id}`, { path: `/containers/${containerId(id)}`, query }, options);
  }

  /**
   * Run a command to completion in a fresh container (no network unless asked) and remove it, e.g.
   * `run({ image, cmd: ["python3", "-c", "import numpy"] })`. The container is removed even
   * when the run is cancelled or times out.
   */
  async run(spec: ContainerSpec, options: OperationOptions = {}): Promise<RunResult> {
    const signal = operationSignal(options);
    const opts = signal ? { signal } : {};
    const id = await this.createContainer(spec, opts);
    try {
      await this.startContainer(id, opts);
      const exitCode = await this.waitContainer(id, opts);
      const logs = await this.containerLogs(id, opts);
      return { exitCode, ...logs };
    } finally {
      await this.removeContainer(id).catch(() => false);
    }
  }
}

async function readTextOk(res: DockerResponse, what: string, signal?: AbortSignal): Promise<string> {
  await expectOk(res, what, signal);
  return readText(res, signal);
}

/** Combine a caller's signal with a timeout. */
export function operationSignal(options: OperationOptions): AbortSignal | undefined {
  const signals: AbortSignal[] = [];
  if (options.signal) signals.push(options.signal);
  if (options.timeoutMs !== undefined) signals.push(AbortSignal.timeout(options.timeoutMs));
  if (signals.length === 0) return undefined;
  if (signals.length === 1) return signals[0];
  const combined = AbortSignal.any(signals);
  return combined;
}

/** URL-safe base64 WITH padding: what the engine's decoder (Go's base64.URLEncoding) expects. */
function headerJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value), "utf8")
    .toString("base64")
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
}

function encodeAuth(auth: Partial<RegistryAuth>): string {
  return headerJson(auth);
}

function encodeRegistryConfig(auths: Record<string, RegistryAuth>): string {
  const config: Record<string, { username: string; password: string; serveraddress: string }> = {};
  for (const [address, a] of Object.entries(auths)) {
    config[address] = {
      username: a.username,
      password: a.password,
      serveraddress: a.serveraddress ?? address,
    };
  }
  return headerJson(config);
}

function encodeRepository(repository: string): string {
  return repository.split("/").map(encodeURIComponent).join("/");
}

/** A checked image reference or id, encoded for a URL path. */
function imageName(ref: string): string {
  if (/^(sha256:)?[0-9a-f]{12,64}$/.test(ref)) return encodeURIComponent(ref);
  const r = parseImageReference(ref);
  const name = `${r.repository}${r.tag ? `:${r.tag}` : ""}${r.digest ? `@${r.digest}` : ""}`;
  return name.split("/").map(encodeURIComponent).join("/");
}

function containerId(id: string): string {
  if (!CONTAINER_ID.test(id)) {
    throw new DockerError(DockerErrorCode.API, `expected a container id or name; received ${cut(id)}`);
  }
  return id;
}

function checkStringMap(what: string, map: Record<string, string> | undefined): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    if (typeof v !== "string" || k === "" || k.includes("\0") || v.includes("\0")) {
      throw new DockerError(
        DockerErrorCode.API,
        `each ${what} must be a non-empty name with a string value and no NUL (e.g. {"org.mlenv.key": "value"}); received ${cut(k)}`,
      );
    }
  }
}

/** Split the engine's multiplexed log stream (8-byte frame headers) into stdout and stderr. */
export function demultiplex(buf: Buffer): { stdout: string; stderr: string } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const kind = buf[i];
    const size = buf.readUInt32BE(i + 4);
    const frame = buf.subarray(i + 8, i + 8 + size);
    if (kind === 2) err.push(frame);
    else out.push(frame);
    i += 8 + size;
  }
  return { stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
}
