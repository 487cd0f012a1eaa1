import {
  type CoreConfig,
  definitionCudaVersion,
  definitionHash,
  type EnvironmentDefinition,
  ImageLabels,
  type Lock,
  lockImageKeyInput,
  MatchSpec,
  type RenderOptions,
  registryHost,
  renderCondaExplicit,
  renderDockerBuild,
  renderPipRequirements,
  resolveBaseImage,
} from "@mlenv/core";
import {
  type BuildContextFiles,
  type BuildLogLine,
  type DockerClient,
  DockerError,
  DockerErrorCode,
  type RegistryAuth,
  type RegistryTarget,
  registryManifestDigest,
} from "../docker/index";
import { CONDA_PREFIX_ARCHIVE, type CondaPrefixStaging, condaOnly, stageCondaPrefix } from "./condaPrefix";
import { BuildError, BuildErrorCode } from "./errors";
import { environmentImage, environmentImageKey } from "./imageKey";
import {
  type BuildSecretBroker,
  needsPipSecrets,
  PIP_SECRETS_ARG,
  type PipSecretsSource,
  routePipThroughHelper,
} from "./pipSecrets";
import type { PrivateInputsSource } from "./privateInputs";

/** Turns a definition (and its lock) into a build context: file path → bytes, `Dockerfile` at the root. */
export type RenderBuildContext = (
  definition: EnvironmentDefinition,
  options: { lock?: Lock; config?: CoreConfig },
) => BuildContextFiles;

/**
 * Core's Dockerfile rendering (`renderDockerBuild`) as a RenderBuildContext; a lock is rendered
 * for the definition's first platform (conda explicit spec + hashed pip requirements).
 * `condaExecutable: null` renders a venv + pip environment for base images without conda (such
 * as the local debootstrap base image); `condaPrefixArchive` (with the builder's `condaPrefix`
 * staging) adds the conda prefix mlenv installed in a layer of its own, on any glibc base image.
 */
export function coreRenderer(
  options: Pick<RenderOptions, "condaExecutable" | "envPrefix" | "venvPython" | "condaPrefixArchive"> = {},
): RenderBuildContext {
  return (definition, { lock, config }) => {
    const platform = definition.platforms[0] ?? "linux-64";
    return renderDockerBuild(definition, {
      ...options,
      ...(config ? { config } : {}),
      ...(lock
        ? {
            lock: {
              condaExplicit: renderCondaExplicit(lock, platform),
              pipRequirements: renderPipRequirements(lock, platform),
              imageKeyInput: lockImageKeyInput(lock),
            },
          }
        : {}),
    }).context;
  };
}

export interface ImageBuilderOptions {
  docker: DockerClient;
  /** Renders the build context; default: core's Dockerfile rendering ({@link coreRenderer}). */
  render?: RenderBuildContext;
  /** Where images are pushed and looked up; null keeps images local only. */
  registry?: RegistryTarget | null;
  /** Core configuration (default base images) used for the image key and rendering. */
  config?: CoreConfig;
  /**
   * Credentials for pulling a definition's base image from a private registry (e.g. from the
   * workspace's secrets); null for public or local base images. They reach the engine only in
   * the X-Registry-Config header: never the Dockerfile, build args, image or log.
   */
  baseImageAuth?: (
    definition: EnvironmentDefinition,
    context: { workspaceId: string | undefined },
  ) => Promise<RegistryAuth | null> | RegistryAuth | null;
  /** Time limit of one engine build, ms (default 30 min). */
  buildTimeoutMs?: number;
  /**
   * Private wheels and index secrets for the pip step: when the rendered requirements reference
   * any, pip runs through a helper that fetches them once from `broker` at build time (see the
   * builds README). Without it such references reach pip unchanged (and fail there).
   */
  pipSecrets?: { source: PipSecretsSource; broker: BuildSecretBroker };
  /**
   * A definition's private inputs in its workspace (wheels, secrets): when it has any, the image
   * key includes them (see {@link keyFor}), so images never cross workspaces or outlive a wheel
   * overwrite.
   */
  privateInputs?: PrivateInputsSource;
  /**
   * The base images have no conda (`MLENV_CONDA_EXECUTABLE=none`): the environment's Python is
   * the base image's `python3`. A definition asking for another Python is then refused before the
   * build (E_PYTHON_UNAVAILABLE, naming the field and the base image's version), never built on a
   * silent substitute.
   */
  basePythonOnly?: boolean;
  /**
   * Install conda environments here with `@mlenv/conda-installer` and copy them into the image
   * (the default renderer is then `coreRenderer({ condaPrefixArchive })`): the conda packages are
   * one layer, the pip packages the next, and the base image needs no conda. A rendered
   * Dockerfile that `ADD`s {@link CONDA_PREFIX_ARCHIVE} gets the staged prefix of the build's lock
   * (or of a lock of its conda part made at build time).
   */
  condaPrefix?: CondaPrefixStaging & {
    /** The prefix path in the image (default `/opt/conda/envs/mlenv`). */
    prefix?: string;
  };
}

const DEFAULT_IMAGE_PREFIX = "/opt/conda/envs/mlenv";
/**
 * The labels a Dockerfile does not already set to the same value (core's rendering sets both of
 * the builder's): each label the engine adds is one more step after the last layer.
 */
function missingLabels(dockerfile: string, labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter(([k, v]) => !dockerfile.includes(`${k}=${JSON.stringify(v)}`)),
  );
}

/** The line core renders for `condaPrefixArchive: CONDA_PREFIX_ARCHIVE`. */
const ADDS_CONDA_PREFIX = /^ADD conda-prefix\.tar \/$/m;

export interface BuildRequest {
  definition: EnvironmentDefinition;
  lock?: Lock;
  /** Every build log line as it arrives (and, for a request joining a running build, the lines so far). */
  onLog?: (line: BuildLogLine) => void;
  /** Cancels this request; the engine build stops when every request waiting on it is cancelled. */
  signal?: AbortSignal;
  /**
   * Build again from scratch: skip the image cache and the engine's layer cache (a request
   * joining a build already running for the key just joins it).
   */
  rebuild?: boolean;
  /** The workspace the build belongs to (private wheels and secrets are looked up in it). */
  workspaceId?: string;
  /** The image key and image a queued job recorded: built as recorded (see the queue). */
  recorded?: { imageKey: string; image: string };
}

export type BuildSource = "built" | "local" | "registry";

export interface ImageBuildResult {
  /** `mlenv1-sha256:<hex>`. */
  imageKey: string;
  /** `<registry>/mlenv/env_<hex>:latest` (no registry part without a registry). */
  image: string;
  /** Local image id; null when the cache hit was in the registry only. */
  imageId: string | null;
  /** Manifest digest in the registry; null without a registry. */
  digest: string | null;
  /** True when no engine build ran. */
  cacheHit: boolean;
  source: BuildSource;
  /** True when this request joined a build another request had started. */
  coalesced: boolean;
  /** Dockerfile steps of an engine build, with whether each came from the layer cache. */
  steps: { index: number; instruction: string; cached: boolean }[];
  /** The rendered Dockerfile of an engine build; null on a cache hit. */
  dockerfile: string | null;
  durationMs: number;
}

/** Image labels (the same names core's rendered Dockerfile writes). */
export const IMAGE_LABEL_KEY = ImageLabels.imageKey;
export const IMAGE_LABEL_DEFINITION = ImageLabels.definitionHash;

interface Inflight {
  promise: Promise<ImageBuildResult>;
  lines: BuildLogLine[];
  listeners: Set<(line: BuildLogLine) => void>;
  waiting: number;
  controller: AbortController;
}

/**
 * Builds environment images on a Docker engine, keyed by core's `imageKey`: the image
 * `<registry>/mlenv/env_<hex>` is reused when it exists locally or in the registry (no engine
 * build), otherwise built from the rendered context with host networking, pushed, and its digest
 * recorded. Concurrent requests for one key in this process share one build.
 */
export class ImageBuilder {
  private readonly inflight = new Map<string, Inflight>();
  /** `python3 --version` of base images by image id (null: none). */
  private readonly basePythons = new Map<string, string | null>();

  constructor(private readonly options: ImageBuilderOptions) {}

  /** The image key and image reference of a definition (without private inputs). */
  imageFor(
    definition: EnvironmentDefinition,
    lock?: Lock,
  ): { imageKey: string; image: string; repositoryPath: string } {
    const key = environmentImageKey({ definition, lock, config: this.options.config });
    return environmentImage(key, this.options.registry?.address);
  }

  /**
   * The image key and reference a build in `workspaceId` uses ({@link environmentImageKey}):
   * {@link imageFor}'s, or, when the definition has private inputs (workspace wheels, secrets), a
   * key over core's key, the workspace and the wheels' current sha256.
   */
  async keyFor(
    definition: EnvironmentDefinition,
    lock: Lock | undefined,
    workspaceId: string | undefined,
  ): Promise<{ imageKey: string; image: string; repositoryPath: string }> {
    const inputs = (await this.options.privateInputs?.(definition, lock, workspaceId)) ?? null;
    const key = environmentImageKey({ definition, lock, config: this.options.config, privateInputs: inputs });
    return environmentImage(key, this.options.registry?.address);
  }

  /**
   * The image a queued job recorded, as recorded (never derived again): checked against this
   * builder's registry and its own key of the definition, so a worker whose settings differ from
   * the server that queued the job (base images, conda executable, registry) fails the job
   * instead of building other contents under the recorded tag.
   */
  private async recordedIds(
    request: BuildRequest & { recorded: { imageKey: string; image: string } },
  ): Promise<{ imageKey: string; image: string; repositoryPath: string }> {
    const { imageKey: key, image } = request.recorded;
    const registry = this.options.registry?.address ?? null;
    const prefix = registry ? `${registry}/` : "";
    const path =
      image.startsWith(prefix) && image.endsWith(":latest") ? image.slice(prefix.length, -7) : null;
    if (path === null || !/^mlenv\/env_[0-9a-f]{64}$/.test(path)) {
      throw new BuildError(
        BuildErrorCode.FAILED,
        `The job's image ${image.slice(0, 200)} is not one this builder pushes (registry ${registry ?? "none"}); expected the builder to have the registry setting of the server that queued the job`,
      );
    }
    const own = await this.keyFor(request.definition, request.lock, request.workspaceId);
    if (own.imageKey !== key) {
      throw new BuildError(
        BuildErrorCode.FAILED,
        `The job's image key ${key.slice(0, 100)} differs from this builder's ${own.imageKey}; expected the builder to have the settings (base images, conda executable) of the server that queued the job`,
      );
    }
    return { imageKey: key, image, repositoryPath: path };
  }

  /**
   * What the image of a definition is and whether it exists (the reference's image details):
   * repository, registry, the rendered Dockerfile, and where the image is (engine, registry).
   */
  async describe(
    definition: EnvironmentDefinition,
    options: { lock?: Lock; signal?: AbortSignal; workspaceId?: string } = {},
  ): Promise<{
    imageKey: string;
    image: string;
    repository: string;
    registry: string | null;
    exists: boolean;
    local: boolean;
    imageId: string | null;
    digest: string | null;
    dockerfile: string | null;
  }> {
    // the key a build in this workspace uses (scoped when the definition has private inputs)
    const ids = await this.keyFor(definition, options.lock, options.workspaceId);
    // rendered first: a definition this server cannot render is the caller's error (core's
    // E_RENDER_REFUSED), whatever the engine and registry answer
    const files = this.renderContext(definition, options.lock);
    const opts = options.signal ? { signal: options.signal } : {};
    const local = await this.options.docker.inspectImage(ids.image, opts);
    const registry = this.options.registry ?? null;
    const digest = registry
      ? await registryManifestDigest(registry, ids.repositoryPath, "latest", opts)
      : null;
    return {
      imageKey: ids.imageKey,
      image: ids.image,
      repository: ids.image.replace(/:latest$/, ""),
      registry: registry?.address ?? null,
      exists: local !== null || digest !== null,
      local: local !== null,
      imageId: local?.Id ?? null,
      digest,
      dockerfile: files.Dockerfile ? new TextDecoder().decode(files.Dockerfile) : null,
    };
  }

  /**
   * Throw what rendering the definition throws (core's E_RENDER_REFUSED, e.g. conda packages on a
   * conda-less base image), so a build request is refused before it is queued.
   */
  assertRenderable(definition: EnvironmentDefinition, lock?: Lock): void {
    this.imageFor(definition, lock);
    this.renderContext(definition, lock);
  }

  /** Build (or reuse) the image of a definition. */
  async build(request: BuildRequest): Promise<ImageBuildResult> {
    const ids = request.recorded
      ? await this.recordedIds({ ...request, recorded: request.recorded })
      : await this.keyFor(request.definition, request.lock, request.workspaceId);
    const { imageKey: key, image, repositoryPath } = ids;
    let entry = this.inflight.get(image);
    const coalesced = entry !== undefined;
    if (!entry) {
      const controller = new AbortController();
      const created: Inflight = {
        lines: [],
        listeners: new Set(),
        waiting: 0,
        controller,
        promise: Promise.resolve() as unknown as Promise<ImageBuildResult>,
      };
      created.promise = this.run(request, { key, image, repositoryPath }, created).finally(() => {
        this.inflight.delete(image);
      });
      this.inflight.set(image, created);
      entry = created;
    }
    return this.subscribe(entry, request, coalesced);
  }

  private subscribe(entry: Inflight, request: BuildRequest, coalesced: boolean): Promise<ImageBuildResult> {
    const listener = request.onLog;
    if (listener) {
      for (const line of entry.lines) listener(line);
      entry.listeners.add(listener);
    }
    entry.waiting++;
    return new Promise<ImageBuildResult>((resolve, reject) => {
      let done = false;
      const finish = () => {
        done = true;
        if (listener) entry.listeners.delete(listener);
        entry.waiting--;
        request.signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        if (done) return;
        finish();
        if (entry.waiting === 0) entry.controller.abort(request.signal?.reason);
        reject(
          new DockerError(DockerErrorCode.ABORTED, "the image build request was cancelled", {
            cause: request.signal?.reason,
          }),
        );
      };
      if (request.signal?.aborted) {
        onAbort();
        return;
      }
      request.signal?.addEventListener("abort", onAbort, { once: true });
      entry.promise.then(
        (result) => {
          if (done) return;
          finish();
          resolve({ ...result, coalesced });
        },
        (error: unknown) => {
          if (done) return;
          finish();
          reject(error);
        },
      );
    });
  }

  private async run(
    request: BuildRequest,
    ids: { key: string; image: string; repositoryPath: string },
    entry: Inflight,
  ): Promise<ImageBuildResult> {
    const started = performance.now();
    const signal = entry.controller.signal;
    const { docker, registry } = this.options;
    const emit = (text: string) => {
      const line = { step: null, text };
      entry.lines.push(line);
      for (const l of entry.listeners) l(line);
    };
    const result = (fields: Omit<ImageBuildResult, "imageKey" | "image" | "durationMs" | "coalesced">) => ({
      imageKey: ids.key,
      image: ids.image,
      coalesced: false,
      durationMs: performance.now() - started,
      ...fields,
    });

    // 0. A Python the base image cannot give is refused, even when an image of the key exists.
    if (this.options.basePythonOnly) await this.checkBasePython(request.definition, emit, signal);

    // 1. Cache: the image exists locally, or in the registry.
    const local = request.rebuild ? null : await docker.inspectImage(ids.image, { signal });
    if (local) {
      emit(`cache hit: ${ids.image} exists on the engine (${local.Id})`);
      const digest = registry ? await this.ensurePushed(ids, emit, signal) : null;
      return result({
        imageId: local.Id,
        digest,
        cacheHit: true,
        source: "local",
        steps: [],
        dockerfile: null,
      });
    }
    if (registry && !request.rebuild) {
      const digest = await registryManifestDigest(registry, ids.repositoryPath, "latest", { signal });
      if (digest) {
        emit(`cache hit: ${ids.image} exists in the registry (${digest})`);
        return result({
          imageId: null,
          digest,
          cacheHit: true,
          source: "registry",
          steps: [],
          dockerfile: null,
        });
      }
    }

    // 2. Build from the rendered context; private wheels and secrets reach pip only at run time.
    const files = this.renderContext(request.definition, request.lock);
    const dockerfileBytes = files.Dockerfile;
    const requirements = files["requirements.txt"];
    const pip =
      this.options.pipSecrets && requirements && files["mlenv_pip.py"]
        ? await this.options.pipSecrets.source({
            requirements: new TextDecoder().decode(requirements),
            workspaceId: request.workspaceId,
          })
        : null;
    const issued = pip && this.options.pipSecrets ? this.options.pipSecrets.broker.issue(pip) : null;
    const redact = (text: string) => {
      let out = text;
      for (const s of pip?.redact ?? []) out = out.split(s).join("***");
      return out;
    };
    const baseAuth =
      (await this.options.baseImageAuth?.(request.definition, { workspaceId: request.workspaceId })) ?? null;
    const baseRegistry =
      baseAuth?.serveraddress ?? registryHost(request.definition.docker.baseImageRegistry.address);
    const dockerfileText = new TextDecoder().decode(dockerfileBytes);
    const condaArchive = ADDS_CONDA_PREFIX.test(dockerfileText)
      ? await this.stagePrefix(request, emit)
      : null;
    emit(`building ${ids.image} (image key ${ids.key})`);
    const built = await docker
      .buildImage({
        context: files,
        ...(condaArchive ? { contextFiles: { [CONDA_PREFIX_ARCHIVE]: condaArchive } } : {}),
        ...(issued ? { buildArgs: { [PIP_SECRETS_ARG]: issued.url } } : {}),
        tags: [ids.image],
        labels: missingLabels(dockerfileText, {
          [IMAGE_LABEL_KEY]: ids.key,
          [IMAGE_LABEL_DEFINITION]: definitionHash(request.definition),
        }),
        signal,
        ...(baseAuth && baseRegistry ? { registryAuth: { [baseRegistry]: baseAuth } } : {}),
        timeoutMs: this.options.buildTimeoutMs ?? 30 * 60_000,
        noCache: request.rebuild ?? false,
        onLog: (raw) => {
          const line = pip ? { ...raw, text: redact(raw.text) } : raw;
          entry.lines.push(line);
          for (const l of entry.listeners) l(line);
        },
      })
      .catch((e: unknown) => {
        const step = (e as { step?: { output?: unknown } }).step;
        if (pip && step && typeof step.output === "string") step.output = redact(step.output);
        if (pip && e instanceof Error) e.message = redact(e.message);
        throw e;
      })
      .finally(() => issued?.revoke());

    // 3. Push and record the digest.
    const digest = registry ? await this.push(ids.image, emit, signal) : null;
    return result({
      imageId: built.imageId,
      digest,
      cacheHit: false,
      source: "built",
      steps: built.steps,
      dockerfile: dockerfileBytes ? new TextDecoder().decode(dockerfileBytes) : null,
    });
  }

  /**
   * With conda-less base images: the Python the definition asks for (`python=3.9` in its conda
   * document) must be the one the base image has, or the build is refused. The base image's
   * version is asked once per image id (`python3` in a throw-away container).
   */
  private async checkBasePython(
    definition: EnvironmentDefinition,
    emit: (text: string) => void,
    signal: AbortSignal,
  ): Promise<void> {
    if (definition.python.userManagedDependencies) return;
    const deps = definition.python.condaDependencies.dependencies ?? [];
    const index = deps.findIndex(
      (d) => typeof d === "string" && /^\s*(?:[^\s:]+::)?python(?:$|[\s=<>!~[])/i.test(d),
    );
    const spec = index >= 0 ? (deps[index] as string) : null;
    const base = resolveBaseImage(definition, this.options.config);
    if (spec === null || base.image === null) return;
    let wanted: MatchSpec;
    try {
      wanted = MatchSpec.parse(spec);
    } catch {
      return; // core's validation reports a malformed spec
    }
    const image = await this.options.docker.inspectImage(base.image, { signal });
    if (!image) {
      emit(`the base image ${base.image} is not on the engine yet: its Python is checked once it is`);
      return;
    }
    let have = this.basePythons.get(image.Id);
    if (have === undefined) {
      const probe = await this.options.docker.run(
        { image: base.image, cmd: ["python3", "-c", "import platform; print(platform.python_version())"] },
        { signal },
      );
      have = probe.exitCode === 0 ? probe.stdout.trim() : null;
      this.basePythons.set(image.Id, have);
    }
    const field = `python.condaDependencies.dependencies[${index}]`;
    const advice = "(base images without conda cannot install another Python; MLENV_CONDA_EXECUTABLE=none)";
    if (have === null) {
      throw new BuildError(
        BuildErrorCode.PYTHON_UNAVAILABLE,
        `${field} asks for ${JSON.stringify(spec)}, but the base image ${base.image} has no python3 ${advice}; use a base image with Python, or user-managed dependencies`,
      );
    }
    if (!wanted.match({ name: "python", version: have, build: "", build_number: 0 })) {
      const minor = have.split(".").slice(0, 2).join(".");
      throw new BuildError(
        BuildErrorCode.PYTHON_UNAVAILABLE,
        `${field} asks for ${JSON.stringify(spec)}, but the base image ${base.image} has Python ${have} ${advice}; ask for "python=${minor}", or use a base image that has the Python you need`,
      );
    }
    emit(`the base image ${base.image} has Python ${have}, as ${field} asks (${spec})`);
  }

  /**
   * The conda prefix archive of a build: its lock's conda packages for the definition's
   * platform (locked now, conda part only, when the build has no lock for it), staged once.
   */
  private async stagePrefix(request: BuildRequest, emit: (text: string) => void): Promise<string> {
    const staging = this.options.condaPrefix;
    if (!staging) {
      throw new BuildError(
        BuildErrorCode.FAILED,
        `the rendered Dockerfile adds ${CONDA_PREFIX_ARCHIVE}, but this builder installs no conda prefixes; expected the builder's condaPrefix option (a staging folder and package cache)`,
      );
    }
    const platform = request.definition.platforms[0] ?? "linux-64";
    let lock = request.lock;
    if (!lock?.platforms[platform]) {
      // no driver during a build: a GPU definition is locked for its image's CUDA (as the client's
      // `mlenv env lock` does), so CUDA builds of its packages are chosen where the channel has them
      const cuda = definitionCudaVersion(request.definition, this.options.config);
      emit(
        `locking the conda packages of ${request.definition.name} for ${platform}${cuda ? ` (__cuda ${cuda}, the image's CUDA)` : ""}`,
      );
      lock = staging.lock
        ? await staging.lock(request.definition, platform)
        : await (await import("@mlenv/resolver")).lockEnvironment(condaOnly(request.definition), {
            platforms: [platform],
            ...(cuda ? { virtualPackages: { cuda } } : {}),
          });
    }
    const { archive } = await stageCondaPrefix({
      staging,
      lock,
      platform,
      prefix: staging.prefix ?? DEFAULT_IMAGE_PREFIX,
      log: emit,
    });
    return archive;
  }

  /** Core's (or the given) rendering, with pip routed through the secrets helper when needed. */
  private renderContext(definition: EnvironmentDefinition, lock: Lock | undefined): BuildContextFiles {
    const staging = this.options.condaPrefix;
    const render =
      this.options.render ??
      coreRenderer(
        staging
          ? { condaPrefixArchive: CONDA_PREFIX_ARCHIVE, envPrefix: staging.prefix ?? DEFAULT_IMAGE_PREFIX }
          : {},
      );
    const files = render(definition, {
      ...(lock ? { lock } : {}),
      ...(this.options.config ? { config: this.options.config } : {}),
    });
    const requirements = files["requirements.txt"];
    return this.options.pipSecrets && requirements && needsPipSecrets(new TextDecoder().decode(requirements))
      ? routePipThroughHelper(files)
      : files;
  }

  private async ensurePushed(
    ids: { image: string; repositoryPath: string },
    emit: (text: string) => void,
    signal: AbortSignal,
  ): Promise<string> {
    const registry = this.options.registry as RegistryTarget;
    const existing = await registryManifestDigest(registry, ids.repositoryPath, "latest", { signal });
    return existing ?? (await this.push(ids.image, emit, signal));
  }

  private async push(image: string, emit: (text: string) => void, signal: AbortSignal): Promise<string> {
    const registry = this.options.registry as RegistryTarget;
    emit(`pushing ${image}`);
    const pushed = await this.options.docker.pushImage(image, {
      ...(registry.auth ? { auth: { ...registry.auth, serveraddress: registry.address } } : {}),
      signal,
    });
    emit(`pushed ${image}@${pushed.digest}`);
    return pushed.digest;
  }
}
