import { utf8ToBytes } from "@noble/hashes/utils.js";
import { type CoreConfig, defaultCoreConfig } from "../config";
import { CoreError, CoreErrorCode } from "../errors";
import { renderCondaEnvironment } from "../formats/condaEnvironment";
import type { JsonValue } from "../hash/canonicalJson";
import { definitionHash, imageKey } from "../hash/hash";
import { definitionCudaVersion, normalizeCondaEnvironment, resolveBaseImage } from "../hash/normalize";
import type { EnvironmentDefinition } from "../spec/definition";
import { validateDefinition } from "../validate/validate";

/** A lock rendered for one platform, used instead of the environment.yml and pip requirements. */
export interface RenderLock {
  /** Conda explicit spec (`@EXPLICIT` + URLs), installed with `create --file`. */
  condaExplicit: string;
  /** pip requirements with `--hash` pins, installed with `--require-hashes --no-deps` (may be empty). */
  pipRequirements: string;
  /** What the lock contributes to the image key (e.g. lockImageKeyInput(lock)). */
  imageKeyInput: JsonValue;
}

export interface RenderOptions {
  config?: CoreConfig;
  /** A lock rendered for the target platform; when given, the image installs exactly it. */
  lock?: RenderLock;
  /** Where the conda environment is created inside the image. */
  envPrefix?: string;
  /**
   * The conda-compatible executable in the base image; defaults to config.condaExecutable. `null`
   * means the base image has no conda: the environment is a venv made by the base image's
   * `venvPython`, and only definitions whose conda document names nothing but python and pip
   * (so everything else comes from pip) can be rendered.
   */
  condaExecutable?: string | null;
  /** The python that creates the venv when `condaExecutable` is null (default `python3`). */
  venvPython?: string;
  /**
   * The conda environment is installed outside the image (by `@mlenv/conda-installer`, for the
   * path `envPrefix`) and handed in as this uncompressed tar in the build context, holding the
   * prefix at its own path (`opt/conda/envs/mlenv/...`): the image `ADD`s it in a layer of its
   * own, so the base image needs no conda (a plain glibc image) and `condaExecutable` is not used.
   * The caller puts the archive into the context (see {@link DockerBuild.condaPrefix}).
   */
  condaPrefixArchive?: string;
}

/** The files of a docker build: the Dockerfile text and the whole build context. */
export interface DockerBuild {
  dockerfile: string;
  /** File name to bytes, including `Dockerfile`. */
  context: Record<string, Uint8Array>;
  /** The FROM image (null when a custom Dockerfile is the base stage). */
  baseImage: string | null;
  gpu: boolean;
  definitionHash: string;
  imageKey: string;
  /**
   * With `condaPrefixArchive`: the prefix the image expects and the context file that must hold
   * it (not in `context`: the caller installs it); null otherwise.
   */
  condaPrefix: { path: string; archive: string } | null;
}

/** Label names written into every image. */
export const ImageLabels = {
  definitionHash: "dev.mlenv.definition-hash",
  imageKey: "dev.mlenv.image-key",
  interpreter: "dev.mlenv.interpreter",
} as const;

const DEFAULT_PREFIX = "/opt/conda/envs/mlenv";
const DEFAULT_VENV_PREFIX = "/opt/mlenv/venv";

function refuse(message: string): never {
  throw new CoreError(CoreErrorCode.RENDER_REFUSED, message);
}

/** Quote a value for a Dockerfile ENV/LABEL (double quotes; `\`, `"` and `$` escaped). */
function dq(value: string): string {
  return `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

/**
 * Render a definition as a docker build, ordered for cache reuse: base image (or the custom
 * Dockerfile as the base stage), system packages, the conda environment from a copied
 * environment.yml (or the lock's explicit spec; or, with `condaPrefixArchive`, the prefix mlenv
 * installed, added in its own layer), pip requirements in a separate layer, environment
 * (PATH, conda variables), labels with definitionHash and imageKey, CMD. User-managed dependencies
 * skip conda and pip and record the interpreter. Runtime `environmentVariables` are not baked in:
 * they are applied when a container runs (they are not part of the image key).
 * Refuses (E_RENDER_REFUSED) a definition with validation errors, so no hostile value reaches a RUN.
 */
export function renderDockerBuild(def: EnvironmentDefinition, options: RenderOptions = {}): DockerBuild {
  const config = options.config ?? defaultCoreConfig;
  const errors = validateDefinition(def, { config, allowReservedName: true }).filter(
    (i) => i.severity === "error",
  );
  if (errors.length > 0) {
    throw new CoreError(
      CoreErrorCode.RENDER_REFUSED,
      `refusing to render a Dockerfile for an invalid definition: ${errors
        .map((e) => `${e.path}: ${e.message}`)
        .join("; ")
        .slice(0, 600)}`,
      { issues: errors },
    );
  }
  const conda = options.condaExecutable === undefined ? config.condaExecutable : options.condaExecutable;
  const archive = options.condaPrefixArchive ?? null;
  const prefix =
    options.envPrefix ?? (conda === null && archive === null ? DEFAULT_VENV_PREFIX : DEFAULT_PREFIX);
  const venvPython = options.venvPython ?? "python3";
  if (archive !== null && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(archive)) {
    refuse(
      `expected condaPrefixArchive to be a plain file name like "conda-prefix.tar"; received ${JSON.stringify(archive).slice(0, 200)}`,
    );
  }
  for (const [what, v] of [
    ["envPrefix", prefix],
    ["condaExecutable", conda ?? "none"],
    ["venvPython", venvPython],
  ] as const) {
    if (!/^[A-Za-z0-9_./-]+$/.test(v)) {
      throw new CoreError(
        CoreErrorCode.RENDER_REFUSED,
        `expected ${what} to be a plain path like "/opt/conda/envs/mlenv"; received ${JSON.stringify(v).slice(0, 200)}`,
      );
    }
  }
  const base = resolveBaseImage(def, config);
  const dHash = definitionHash(def);
  const key = imageKey(def, {
    config,
    ...(options.lock ? { lock: options.lock.imageKeyInput } : {}),
  });
  const files: Record<string, string> = {};
  const lines: string[] = [];
  // No "# syntax=" directive: BuildKit would pull a frontend image, and builds must work offline.
  if (def.docker.baseDockerfile !== null) {
    // The definition's Dockerfile comes first, so its parser directives (# escape=...) stay valid.
    lines.push(
      def.docker.baseDockerfile.replace(/\s+$/, ""),
      "# --- mlenv layers on the definition's Dockerfile (generated; edit the environment definition) ---",
    );
  } else {
    lines.push("# Generated by mlenv. Do not edit; edit the environment definition.", `FROM ${base.image}`);
  }

  const apt = [...new Set(def.docker.systemPackages.map((p) => p.trim()))].sort();
  if (apt.length > 0) {
    lines.push(
      "USER root",
      `RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${apt.join(" ")} && rm -rf /var/lib/apt/lists/*`,
    );
  }

  const interpreter = def.python.userManagedDependencies
    ? def.python.interpreterPath
    : `${prefix}/bin/python`;
  const env: [string, string][] = [];
  const pipLines: string[] = [];
  if (!def.python.userManagedDependencies) {
    const n = normalizeCondaEnvironment(def.python.condaDependencies);
    if (archive !== null) {
      // the conda packages' own layer: installed by mlenv, copied in at the same path
      // conda byte-compiles noarch: python packages when it links them; mlenv's installer does
      // not run the environment's python, so the image does it, in a layer a pip change keeps
      lines.push(
        `ADD ${archive} /`,
        `RUN ${prefix}/bin/python -m compileall -q -j 0 ${prefix}/lib/python3*/site-packages >/dev/null 2>&1 || echo "note: some files did not byte-compile (conda skips them too)"`,
      );
    } else if (conda === null) {
      const others = n.conda.filter((spec) => !/^(?:[^\s:]+::)?(?:python|pip)(?:$|[\s=<>!~[])/.test(spec));
      if (others.length > 0) {
        refuse(
          `the base image has no conda (condaExecutable: null), so conda packages cannot be installed; expected a conda ` +
            `document naming only python and pip (e.g. "python=3.11" with a pip block); received ${JSON.stringify(others).slice(0, 200)}`,
        );
      }
      if (options.lock && /^(?!#|@EXPLICIT)\S/m.test(options.lock.condaExplicit)) {
        refuse(
          "the base image has no conda (condaExecutable: null), but the lock pins conda packages; use a conda base image",
        );
      }
      lines.push(`RUN ${venvPython} -m venv ${prefix}`);
    } else if (options.lock) {
      files["conda-explicit.txt"] = options.lock.condaExplicit;
      lines.push(
        "COPY conda-explicit.txt /tmp/mlenv/conda-explicit.txt",
        `RUN ${conda} create -y -p ${prefix} --file /tmp/mlenv/conda-explicit.txt && ${conda} clean -a -y`,
      );
    } else {
      files["environment.yml"] = renderCondaEnvironment({
        channels: n.channels,
        dependencies: n.conda,
        ...n.extra,
      });
      // no driver during a build: a GPU definition's __cuda comes from the definition (its image's CUDA)
      const cuda = definitionCudaVersion(def, config);
      if (cuda !== null && !/^\d{1,3}(\.\d{1,3}){0,2}$/.test(cuda))
        refuse(
          `expected docker.cudaVersion to be a CUDA version such as "12.4"; received ${JSON.stringify(cuda).slice(0, 200)}`,
        );
      lines.push(
        "COPY environment.yml /tmp/mlenv/environment.yml",
        `RUN ${cuda ? `CONDA_OVERRIDE_CUDA=${cuda} ` : ""}${conda} create -y -p ${prefix} -f /tmp/mlenv/environment.yml && ${conda} clean -a -y`,
      );
    }
    const pipText = options.lock
      ? options.lock.pipRequirements
      : n.pip.length > 0
        ? `${[...n.pipOptions, ...n.pip].join("\n")}\n`
        : "";
    if (pipText.trim()) {
      files["requirements.txt"] = pipText;
      const flags = options.lock ? " --require-hashes --no-deps" : "";
      pipLines.push(
        "COPY requirements.txt /tmp/mlenv/requirements.txt",
        `RUN ${prefix}/bin/python -m pip install --no-cache-dir --disable-pip-version-check${flags} -r /tmp/mlenv/requirements.txt`,
      );
    }
    // The prefix is checked to be a plain path above, so it may stay unquoted next to $PATH.
    env.push(["PATH", `${prefix}/bin:$PATH`]);
    env.push([conda === null && archive === null ? "VIRTUAL_ENV" : "CONDA_PREFIX", prefix]);
    for (const k of Object.keys(n.variables).sort()) env.push([k, n.variables[k]!]);
  }
  env.push(["MLENV_PYTHON", interpreter]);
  const envLine = `ENV ${env.map(([k, v]) => `${k}=${k === "PATH" ? v : dq(v)}`).join(" \\\n    ")}`;
  const labelLine = `LABEL ${ImageLabels.definitionHash}=${dq(dHash)} \\\n      ${ImageLabels.imageKey}=${dq(key)} \\\n      ${ImageLabels.interpreter}=${dq(interpreter)}`;
  const cmdLine = `CMD ${JSON.stringify([interpreter])}`;
  if (archive !== null) {
    // everything a pip-only change leaves alone comes before the pip layer; after it only the
    // label that names the image key (so such a change rebuilds the pip layer and one label)
    lines.push(envLine, cmdLine, ...pipLines, labelLine);
  } else {
    lines.push(...pipLines, envLine, labelLine, cmdLine);
  }
  const dockerfile = `${lines.join("\n")}\n`;
  const context: Record<string, Uint8Array> = { Dockerfile: utf8ToBytes(dockerfile) };
  for (const [name, text] of Object.entries(files)) context[name] = utf8ToBytes(text);
  return {
    dockerfile,
    context,
    baseImage: base.image,
    gpu: base.gpu,
    definitionHash: dHash,
    imageKey: key,
    condaPrefix: archive !== null && !def.python.userManagedDependencies ? { path: prefix, archive } : null,
  };
}
