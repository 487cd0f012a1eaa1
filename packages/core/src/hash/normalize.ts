import { type CoreConfig, defaultCoreConfig } from "../config";
import { memoize } from "../internal/memo";
import { MatchSpec } from "../packaging/matchSpec";
import { Requirement } from "../packaging/requirement";
import { canonicalizeName } from "../packaging/version";
import type { CondaEnvironment, EnvironmentDefinition } from "../spec/definition";
import type { JsonValue } from "./canonicalJson";

const pipCache = memoize(20_000, normalizePipRequirementUncached);

/**
 * Canonical spelling of one pip requirement (PEP 508, parsed by ./packaging's Requirement):
 * PEP 503 name, sorted normalised extras, canonical specifier set (clauses sorted, no whitespace),
 * canonical marker, `name @ url` kept. Editable (`-e`) targets, bare URLs and paths, and lines that
 * do not parse as PEP 508 are kept as written (trimmed, whitespace collapsed).
 */
export function normalizePipRequirement(line: string): string {
  return pipCache(line);
}

function normalizePipRequirementUncached(line: string): string {
  const s = line.trim().replace(/\s+/g, " ");
  if (/^(-e|--editable)(\s|=)/.test(s)) return `-e ${s.replace(/^(-e|--editable)[\s=]+/, "")}`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^(\.|\/|~)/.test(s)) return s;
  let req: Requirement;
  try {
    req = Requirement.parse(s);
  } catch {
    return s;
  }
  const extras = req.extras.length
    ? `[${[...new Set(req.extras.map((e) => canonicalizeName(e.trim())))].sort().join(",")}]`
    : "";
  const marker = req.marker ? `; ${req.marker.toString()}` : "";
  if (req.url !== null) return `${req.canonicalName}${extras} @ ${req.url}${marker}`;
  return `${req.canonicalName}${extras}${req.specifier.toString()}${marker}`;
}

/** True for a pip block line that is an option (`--index-url`, `--extra-index-url`, `-f`...), not a requirement. */
export function isPipOption(line: string): boolean {
  const s = line.trim();
  return s.startsWith("-") && !/^(-e|--editable)(\s|=)/.test(s);
}

/** Canonical spelling of a pip option line: whitespace collapsed, `--opt=value` as `--opt value`. */
export function normalizePipOption(line: string): string {
  const s = line.trim().replace(/\s+/g, " ");
  const m = /^(--[A-Za-z0-9-]+)=(.*)$/.exec(s);
  return m ? `${m[1]} ${m[2]}` : s;
}

const condaCache = memoize(20_000, normalizeCondaSpecUncached);

/**
 * Canonical spelling of a conda MatchSpec string: conda's own `str(MatchSpec)` form, from
 * ./packaging's MatchSpec (name lowercased, channel kept, `python >= 3.8` = `python>=3.8` =
 * `python[version='>=3.8']`, `python 3.9.*` = `python=3.9`). A spec MatchSpec cannot parse is kept
 * trimmed, with whitespace around operators removed.
 */
export function normalizeCondaSpec(spec: string): string {
  return condaCache(spec);
}

function normalizeCondaSpecUncached(spec: string): string {
  const s = spec.trim();
  try {
    return MatchSpec.parse(s).toString();
  } catch {
    // Fall through to a conservative textual normalisation.
  }
  const m = /^((?:[^\s:]+::)?)([A-Za-z0-9_.+-]+)(.*)$/s.exec(s);
  if (!m) return s.replace(/\s+/g, " ");
  const channel = m[1] ?? "";
  const name = (m[2] ?? "").toLowerCase();
  const rest = (m[3] ?? "").trim();
  if (!rest) return `${channel}${name}`;
  if (/^[=<>!~[]/.test(rest)) return `${channel}${name}${rest.replace(/\s+/g, "")}`;
  return `${channel}${name} ${rest.replace(/\s+/g, " ")}`;
}

function sortedUnique(items: string[]): string[] {
  return [...new Set(items)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The conda document in canonical form; the hashed shape of `python.condaDependencies`. */
export interface NormalizedCondaEnvironment {
  /** Channel order is priority, so it is kept; repeated channels keep their first position. */
  channels: string[];
  /** Conda specs, normalised, sorted, duplicates removed. */
  conda: string[];
  /** pip options (index URLs...), normalised, in written order. */
  pipOptions: string[];
  /** pip requirements, normalised, sorted, duplicates removed. */
  pip: string[];
  variables: Record<string, string>;
  /** Unknown top-level keys of the document, kept as written. */
  extra: Record<string, JsonValue>;
}

/** Normalise a conda document. `name` and `prefix` are dropped: mlenv builds into its own prefix. */
export function normalizeCondaEnvironment(env: CondaEnvironment): NormalizedCondaEnvironment {
  const conda: string[] = [];
  const pipOptions: string[] = [];
  const pip: string[] = [];
  for (const dep of env.dependencies ?? []) {
    if (typeof dep === "string") conda.push(normalizeCondaSpec(dep));
    else
      for (const line of dep.pip) {
        if (isPipOption(line)) pipOptions.push(normalizePipOption(line));
        else pip.push(normalizePipRequirement(line));
      }
  }
  const channels: string[] = [];
  for (const c of env.channels ?? []) {
    const t = c.trim();
    if (!channels.includes(t)) channels.push(t);
  }
  const variables: Record<string, string> = {};
  for (const [k, v] of Object.entries(env.variables ?? {})) variables[k] = String(v);
  const extra: Record<string, JsonValue> = {};
  for (const [k, v] of Object.entries(env)) {
    if (!["name", "prefix", "channels", "dependencies", "variables"].includes(k) && v !== undefined) {
      extra[k] = v as JsonValue;
    }
  }
  return { channels, conda: sortedUnique(conda), pipOptions, pip: sortedUnique(pip), variables, extra };
}

/** Definition hash input: everything except name, version, description, tags and registry credentials. */
export function definitionHashInput(def: EnvironmentDefinition): JsonValue {
  return {
    kind: "definition",
    platforms: sortedUnique(def.platforms.map((p) => p.trim())),
    environmentVariables: def.environmentVariables,
    inferencingStackVersion: def.inferencingStackVersion,
    python: {
      userManagedDependencies: def.python.userManagedDependencies,
      interpreterPath: def.python.interpreterPath,
      condaDependencies: normalizeCondaEnvironment(def.python.condaDependencies) as unknown as JsonValue,
      condaDependenciesFile: def.python.condaDependenciesFile,
      baseCondaEnvironment: def.python.baseCondaEnvironment,
    },
    docker: {
      enabled: def.docker.enabled,
      baseImage: def.docker.baseImage,
      baseDockerfile: def.docker.baseDockerfile,
      registry: def.docker.baseImageRegistry.address,
      sharedVolumes: def.docker.sharedVolumes,
      shmSize: def.docker.shmSize,
      arguments: def.docker.arguments,
      platform: def.docker.platform,
      gpuSupport: def.docker.gpuSupport,
      systemPackages: sortedUnique(def.docker.systemPackages.map((p) => p.trim())),
      // absent when unset, so definitions without it keep their hashes
      ...(def.docker.cudaVersion !== null ? { cudaVersion: def.docker.cudaVersion.trim() } : {}),
    },
    spark: def.spark as unknown as JsonValue,
    databricks: def.databricks as unknown as JsonValue,
    r: def.r as unknown as JsonValue,
  };
}

export interface ImageKeyOptions {
  /** Configuration whose default base images are resolved (CPU vs GPU); defaults to defaultCoreConfig. */
  config?: CoreConfig;
  /**
   * A lock of the definition (exact versions and artifact hashes per platform). When given, it
   * is part of the key, so re-locking to new versions builds a new image.
   */
  lock?: JsonValue;
}

/**
 * Everything that changes the built image and nothing else: base image or Dockerfile (and its
 * registry and docker.platform), conda and pip content, platforms, user-managed python, Spark packages, R packages.
 * Not runtime environment variables, names, versions, docker run options or Databricks libraries.
 */
export function imageKeyInputs(def: EnvironmentDefinition, options: ImageKeyOptions = {}): JsonValue {
  const userManaged = def.python.userManagedDependencies;
  const base = resolveBaseImage(def, options.config);
  const input: { [k: string]: JsonValue } = {
    kind: "image",
    platforms: sortedUnique(def.platforms.map((p) => p.trim())),
    base: {
      image: base.image,
      dockerfile: def.docker.baseDockerfile,
      registry: def.docker.baseImageRegistry.address,
      // The image's OS/architecture (docker.platform) selects different base layers and binaries.
      platform: def.docker.platform,
    },
    systemPackages: sortedUnique(def.docker.systemPackages.map((p) => p.trim())),
    python: userManaged
      ? { userManaged: true, interpreterPath: def.python.interpreterPath }
      : options.lock !== undefined
        ? // locked: the exact artifacts in `lock` replace the loose conda/pip specs; conda
          // `variables` still become ENV lines of the image, so they stay in the key.
          {
            userManaged: false,
            locked: true,
            variables: normalizeCondaEnvironment(def.python.condaDependencies).variables,
          }
        : {
            userManaged: false,
            conda: normalizeCondaEnvironment(def.python.condaDependencies) as unknown as JsonValue,
          },
    spark: { repositories: def.spark.repositories, packages: def.spark.packages },
    r: def.r as unknown as JsonValue,
  };
  if (options.lock !== undefined) input.lock = options.lock;
  // unlocked, a conda solve at build time picks CUDA builds for this `__cuda` (a base image's own
  // CUDA is in its tag, already keyed); absent when unset, so other keys stay the same
  else if (!userManaged && def.docker.cudaVersion !== null) input.cuda = def.docker.cudaVersion.trim();
  // another layout renders another image from the same definition; the default adds nothing, so
  // keys made before layouts existed stay the same
  const layout = options.config?.imageLayout;
  if (layout !== undefined && layout !== "conda-in-base" && !userManaged) input.layout = layout;
  return input;
}

const cudaConda =
  /^(?:cudatoolkit|cudnn|nccl|cuda|cuda-[a-z0-9-]+|pytorch-cuda|cupy|tensorflow-gpu|libcublas|libcufft|libcurand|libcusolver|libcusparse|libnvjitlink|libcudnn|cutensor)$/;
const cudaPip =
  /^(?:nvidia-[a-z0-9-]*cu\d+|nvidia-cuda-[a-z0-9-]+|nvidia-cudnn[a-z0-9-]*|cupy-cuda[a-z0-9]+|tensorflow-gpu|jax-cuda[0-9a-z-]*|torch-cuda)$/;

/** Conda or pip packages of a definition that need CUDA (e.g. cudatoolkit, pytorch-cuda, cupy-cuda12x). */
export function cudaPackages(def: EnvironmentDefinition): string[] {
  const out: string[] = [];
  for (const dep of def.python.condaDependencies.dependencies ?? []) {
    if (typeof dep === "string") {
      const spec = normalizeCondaSpec(dep).replace(/^[^\s:]+::/, "");
      const name = spec.split(/[\s=<>!~[]/)[0] ?? "";
      // A CUDA package by name, or a CUDA build selected by build string (`pytorch=2.3=*cuda*`).
      const rest = spec.slice(name.length);
      if (cudaConda.test(name) || /cuda/i.test(rest)) out.push(dep.trim());
    } else {
      for (const line of dep.pip) {
        if (isPipOption(line)) continue;
        const name = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(line.trim())?.[0];
        // A CUDA distribution by name, or a CUDA local version (`torch==2.3.0+cu121`).
        if ((name && cudaPip.test(canonicalizeName(name.trim()))) || /\+cu\d{2,3}\b/.test(line))
          out.push(line.trim());
      }
    }
  }
  return out;
}

/**
 * The `__cuda` version a GPU definition's image is locked and built for: `docker.cudaVersion`, else
 * the `cuda-MAJOR.MINOR` of the GPU base image's tag (e.g. 12.1 for `…-jammy-cuda-12.1.1`); null
 * for CPU definitions and GPU images whose tag names no CUDA version.
 */
export function definitionCudaVersion(
  def: EnvironmentDefinition,
  config: CoreConfig = defaultCoreConfig,
): string | null {
  const base = resolveBaseImage(def, config);
  if (def.docker.cudaVersion !== null) return def.docker.cudaVersion.trim();
  if (!base.gpu || base.image === null) return null;
  const m = /(?:^|[^a-z])cuda[-_]?(\d{1,3})\.(\d{1,3})/i.exec(base.image.slice(base.image.lastIndexOf(":")));
  return m ? `${Number(m[1])}.${Number(m[2])}` : null;
}

/**
 * The image reference a definition's base image is pulled as: `docker.baseImage` prefixed with
 * `docker.baseImageRegistry.address` (scheme and trailing `/` dropped) when the registry is given
 * and the image does not already name it, as the reference combines them
 * (`baseImage: "private/base:1"` + `address: "registry.example.com"` pulls
 * `registry.example.com/private/base:1`). Null for a custom Dockerfile or no base image.
 */
export function qualifiedBaseImage(def: EnvironmentDefinition): string | null {
  const image = def.docker.baseImage;
  if (image === null || def.docker.baseDockerfile !== null) return null;
  const address = registryHost(def.docker.baseImageRegistry.address);
  if (!address || image.startsWith(`${address}/`)) return image;
  return `${address}/${image}`;
}

/** A registry address as `host[:port]`: without `http(s)://` and trailing slashes; null when empty. */
export function registryHost(address: string | null): string | null {
  if (address === null) return null;
  const host = address
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/+$/, "");
  return host === "" ? null : host;
}

/**
 * The base image a definition builds on: a custom Dockerfile (image null), its own base image
 * (combined with its private registry, see {@link qualifiedBaseImage}), or the configured default
 * when it did not choose one. A definition "did not choose" when its base image is a default CPU
 * image (the configuration's or core's built-in one, which is what `createDefinition` and the SDK
 * write) and no private registry is named: it builds on the configuration's CPU image, or on its
 * GPU image when it asks for GPU (docker.gpuSupport) or names CUDA packages. Core's built-in GPU
 * image likewise stands for the configured GPU image. So a server configured with its own base
 * images builds every default definition on them, and the image key names the image really used.
 */
export function resolveBaseImage(
  def: EnvironmentDefinition,
  config: CoreConfig = defaultCoreConfig,
): { image: string | null; gpu: boolean; reason: string } {
  if (def.docker.baseDockerfile !== null) return { image: null, gpu: false, reason: "custom Dockerfile" };
  const image = def.docker.baseImage;
  const privateRegistry = registryHost(def.docker.baseImageRegistry.address) !== null;
  if (
    image !== null &&
    !privateRegistry &&
    (image === config.baseImages.cpu || image === defaultCoreConfig.baseImages.cpu)
  ) {
    if (def.docker.gpuSupport)
      return { image: config.baseImages.gpu, gpu: true, reason: "docker.gpuSupport" };
    const cuda = cudaPackages(def);
    if (cuda.length > 0)
      return { image: config.baseImages.gpu, gpu: true, reason: `CUDA packages: ${cuda.join(", ")}` };
    return { image: config.baseImages.cpu, gpu: false, reason: "CPU default" };
  }
  if (image !== null && !privateRegistry && image === defaultCoreConfig.baseImages.gpu) {
    return { image: config.baseImages.gpu, gpu: true, reason: "GPU default" };
  }
  const qualified = qualifiedBaseImage(def);
  return {
    image: qualified,
    gpu: qualified !== null && qualified === config.baseImages.gpu,
    reason: "definition's base image",
  };
}
