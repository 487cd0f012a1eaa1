import { type CoreConfig, defaultCoreConfig } from "../config";
import { CoreError, CoreErrorCode, type DefinitionIssue, preview } from "../errors";
import { isPipOption, normalizeCondaSpec, qualifiedBaseImage, registryHost } from "../hash/normalize";
import { formatPath, locator, type SourceLocations } from "../internal/path";
import type { EnvironmentDefinition } from "../spec/definition";

/** Codes of validation issues (errors start with E_, warnings with W_). */
export const ValidationCode = {
  NAME_INVALID: "E_NAME_INVALID",
  NAME_RESERVED: "E_NAME_RESERVED",
  BASE_MISSING: "E_BASE_MISSING",
  BASE_CONFLICT: "E_BASE_CONFLICT",
  BASE_IMAGE_INVALID: "E_BASE_IMAGE_INVALID",
  DOCKERFILE_TOO_LARGE: "E_DOCKERFILE_TOO_LARGE",
  DOCKERFILE_DIRECTIVE: "E_DOCKERFILE_DIRECTIVE",
  PYTHON_MISSING: "E_PYTHON_MISSING",
  PYTHON_MULTIPLE: "E_PYTHON_MULTIPLE",
  UNSAFE_VALUE: "E_UNSAFE_VALUE",
  ENV_NAME_INVALID: "E_ENV_NAME_INVALID",
  CHANNEL_INVALID: "E_CHANNEL_INVALID",
  SYSTEM_PACKAGE_INVALID: "E_SYSTEM_PACKAGE_INVALID",
  CUDA_VERSION_INVALID: "E_CUDA_VERSION_INVALID",
  UNPINNED: "W_UNPINNED",
  UNTAGGED_IMAGE: "W_UNTAGGED_IMAGE",
  LOCAL_PATH: "W_LOCAL_PATH",
  UNKNOWN_PLATFORM: "W_UNKNOWN_PLATFORM",
} as const;

/** Largest accepted custom Dockerfile, in UTF-8 bytes. */
export const MAX_DOCKERFILE_BYTES = 100 * 1024;
/** Prefix reserved for curated environments (case-insensitive). */
export const RESERVED_NAME_PREFIX = "mlenv-";

const KNOWN_PLATFORMS = new Set([
  "linux-64",
  "linux-aarch64",
  "linux-ppc64le",
  "linux-s390x",
  "osx-64",
  "osx-arm64",
  "win-64",
  "noarch",
]);

export interface ValidateOptions {
  /** Where each JSON path was written (from a loader), to put file:line on issues. */
  locations?: SourceLocations;
  /** Allow the reserved `mlenv-` prefix (for seeding curated environments). */
  allowReservedName?: boolean;
  config?: CoreConfig;
}

const nameRe = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const aptRe = /^[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?$/;
const envNameRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const registryHostRe = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]*[a-zA-Z0-9])?(?::[0-9]{1,5})?$/;
// A docker image reference: [registry[:port]/]path[:tag][@digest], lowercase path components.
const imageRe =
  /^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** Why a value may not reach a Dockerfile or shell, or null when it is safe. */
export function unsafeReason(value: string): string | null {
  if (value.includes("\n") || value.includes("\r")) return "a line break";
  if (value.includes("\0")) return "a NUL byte";
  if (value.includes("`")) return "a backtick";
  if (value.includes("$(")) return "a command substitution `$(`";
  return null;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function isPythonSpec(spec: string): boolean {
  return /^(?:[^\s:]+::)?python$/.test(normalizeCondaSpec(spec).split(/[\s=<>!~[]/)[0] ?? "");
}

/** True when a pip requirement line names no version (and is not a URL, path or VCS link). */
function pipUnpinned(line: string): boolean {
  const s = line.trim();
  if (/^(-e|--editable)\b/.test(s) || /:\/\//.test(s) || /^[./~]/.test(s) || /\s@\s|^\S+@/.test(s))
    return false;
  const body = s.split(";")[0] ?? "";
  return !/[=<>~!]/.test(body);
}

/**
 * Validate a parsed definition. Returns every error and warning with its JSON path, and file/line
 * when `locations` is given. Values that reach a Dockerfile or shell are rejected when they hold
 * a line break, NUL, backtick or `$(`.
 */
export function validateDefinition(
  def: EnvironmentDefinition,
  options: ValidateOptions = {},
): DefinitionIssue[] {
  const config = options.config ?? defaultCoreConfig;
  const locate = locator(options.locations ?? {});
  const issues: DefinitionIssue[] = [];
  const add = (
    code: string,
    severity: "error" | "warning",
    path: (string | number)[],
    message: string,
  ): void => {
    const p = formatPath(path);
    issues.push({ code, severity, message, path: p, ...locate(p) });
  };
  const hostile = (path: (string | number)[], value: string | null | undefined, what: string): boolean => {
    if (value === null || value === undefined) return false;
    const why = unsafeReason(value);
    if (!why) return false;
    add(
      ValidationCode.UNSAFE_VALUE,
      "error",
      path,
      `${what} contains ${why}, which could inject commands into the image build; expected a plain ` +
        `value such as "numpy==1.26.4"; received ${preview(value)}`,
    );
    return true;
  };

  // Name
  if (def.name.length < 1 || def.name.length > 255 || !nameRe.test(def.name)) {
    add(
      ValidationCode.NAME_INVALID,
      "error",
      ["name"],
      `expected a name of 1-255 characters from A-Z a-z 0-9 . _ - starting with a letter or digit ` +
        `(e.g. "pytorch-train"); received ${preview(def.name)} (${def.name.length} characters)`,
    );
  } else if (!options.allowReservedName && def.name.toLowerCase().startsWith(RESERVED_NAME_PREFIX)) {
    add(
      ValidationCode.NAME_RESERVED,
      "error",
      ["name"],
      `the prefix "${RESERVED_NAME_PREFIX}" (any case) is reserved for curated environments; copy the curated ` +
        `environment under your own name (e.g. "my-${def.name.slice(RESERVED_NAME_PREFIX.length)}"); received ${preview(def.name)}`,
    );
  }

  // Base image / Dockerfile
  const { baseImage, baseDockerfile } = def.docker;
  if (baseImage === null && baseDockerfile === null) {
    add(
      ValidationCode.BASE_MISSING,
      "error",
      ["docker", "baseImage"],
      `expected exactly one of docker.baseImage (e.g. "${config.baseImages.cpu}") or docker.baseDockerfile; received neither`,
    );
  } else if (baseImage !== null && baseDockerfile !== null) {
    add(
      ValidationCode.BASE_CONFLICT,
      "error",
      ["docker", "baseDockerfile"],
      `expected exactly one of docker.baseImage or docker.baseDockerfile; received both (baseImage ${preview(baseImage)}); set baseImage to null to use the Dockerfile`,
    );
  }
  if (baseImage !== null && !hostile(["docker", "baseImage"], baseImage, "docker.baseImage")) {
    if (!imageRe.test(baseImage)) {
      add(
        ValidationCode.BASE_IMAGE_INVALID,
        "error",
        ["docker", "baseImage"],
        `expected a docker image reference like "ubuntu:22.04" or "registry.example.com/team/base:1.0@sha256:…"; received ${preview(baseImage)}`,
      );
    } else {
      const lastPart = baseImage.split("/").pop() ?? "";
      const tag = lastPart.includes(":") ? lastPart.split("@")[0]!.split(":")[1] : undefined;
      if (!baseImage.includes("@sha256:") && (tag === undefined || tag === "latest")) {
        add(
          ValidationCode.UNTAGGED_IMAGE,
          "warning",
          ["docker", "baseImage"],
          `base image ${preview(baseImage)} has ${tag ? 'the moving tag "latest"' : "no tag"}; pin a tag or digest (e.g. "ubuntu:22.04") so rebuilds get the same base`,
        );
      }
    }
  }
  if (baseDockerfile !== null) {
    const size = utf8Length(baseDockerfile);
    if (size > MAX_DOCKERFILE_BYTES) {
      add(
        ValidationCode.DOCKERFILE_TOO_LARGE,
        "error",
        ["docker", "baseDockerfile"],
        `expected a Dockerfile of at most ${MAX_DOCKERFILE_BYTES} bytes (100 KB); received ${size} bytes`,
      );
    }
    const escapeDirective = /^(?:#[^\n]*\n)*?#\s*escape\s*=\s*(\S)/i.exec(
      baseDockerfile.replace(/\r\n?/g, "\n"),
    );
    if (escapeDirective && escapeDirective[1] !== "\\") {
      add(
        ValidationCode.DOCKERFILE_DIRECTIVE,
        "error",
        ["docker", "baseDockerfile"],
        `the Dockerfile sets the escape character to ${preview(escapeDirective[1])}; mlenv appends layers written with the default "\\" escape, so remove the "# escape=" directive`,
      );
    }
    if (baseDockerfile.includes("\0")) {
      add(
        ValidationCode.UNSAFE_VALUE,
        "error",
        ["docker", "baseDockerfile"],
        "the Dockerfile contains a NUL byte",
      );
    }
  }
  for (const [i, a] of def.docker.arguments.entries())
    hostile(["docker", "arguments", i], a, "a docker argument");
  for (const [i, pkg] of def.docker.systemPackages.entries()) {
    if (hostile(["docker", "systemPackages", i], pkg, "a system package")) continue;
    if (!aptRe.test(pkg)) {
      add(
        ValidationCode.SYSTEM_PACKAGE_INVALID,
        "error",
        ["docker", "systemPackages", i],
        `expected a Debian package name, optionally with =version (e.g. "libgl1" or "curl=7.88.1-10"); received ${preview(pkg)}`,
      );
    }
  }
  hostile(["docker", "shmSize"], def.docker.shmSize, "docker.shmSize");
  if (def.docker.cudaVersion !== null && !/^\d{1,3}(\.\d{1,3}){0,2}$/.test(def.docker.cudaVersion.trim())) {
    add(
      ValidationCode.CUDA_VERSION_INVALID,
      "error",
      ["docker", "cudaVersion"],
      `expected a CUDA version such as "12.4"; received ${preview(def.docker.cudaVersion)}`,
    );
  }
  const registryAddress = def.docker.baseImageRegistry.address;
  if (!hostile(["docker", "baseImageRegistry", "address"], registryAddress, "the registry address")) {
    const host = registryHost(registryAddress);
    if (host !== null && !registryHostRe.test(host)) {
      add(
        ValidationCode.BASE_IMAGE_INVALID,
        "error",
        ["docker", "baseImageRegistry", "address"],
        `expected a registry address like "registry.example.com" or "127.0.0.1:5000"; received ${preview(registryAddress)}`,
      );
    } else if (host !== null && baseImage !== null && baseDockerfile === null && imageRe.test(baseImage)) {
      const combined = qualifiedBaseImage(def);
      if (combined !== null && !imageRe.test(combined)) {
        add(
          ValidationCode.BASE_IMAGE_INVALID,
          "error",
          ["docker", "baseImage"],
          `expected docker.baseImage to be a path in the registry ${preview(host)} (e.g. "team/base:1.0"); the combined reference ${preview(combined)} is not an image reference`,
        );
      }
    }
  }

  // Environment variables
  for (const [k, v] of Object.entries(def.environmentVariables)) {
    if (!envNameRe.test(k)) {
      add(
        ValidationCode.ENV_NAME_INVALID,
        "error",
        ["environmentVariables", k],
        `expected an environment variable name like "OMP_NUM_THREADS" ([A-Za-z_][A-Za-z0-9_]*); received ${preview(k)}`,
      );
    }
    hostile(["environmentVariables", k], v, `environment variable ${preview(k, 60)}`);
  }

  // Platforms
  def.platforms.forEach((p, i) => {
    if (hostile(["platforms", i], p, "a platform")) return;
    if (!KNOWN_PLATFORMS.has(p)) {
      add(
        ValidationCode.UNKNOWN_PLATFORM,
        "warning",
        ["platforms", i],
        `unknown conda platform ${preview(p)}; expected one of ${[...KNOWN_PLATFORMS].join(", ")}`,
      );
    }
  });

  // Python
  hostile(["python", "interpreterPath"], def.python.interpreterPath, "python.interpreterPath");
  const env = def.python.condaDependencies;
  const condaPath = ["python", "condaDependencies"];
  (env.channels ?? []).forEach((c, i) => {
    if (hostile([...condaPath, "channels", i], c, "a conda channel")) return;
    if (!c.trim() || /\s/.test(c.trim())) {
      add(
        ValidationCode.CHANNEL_INVALID,
        "error",
        [...condaPath, "channels", i],
        `expected a channel name or URL without spaces (e.g. "conda-forge"); received ${preview(c)}`,
      );
    }
  });
  for (const [k, v] of Object.entries(env.variables ?? {})) {
    if (!envNameRe.test(k)) {
      add(
        ValidationCode.ENV_NAME_INVALID,
        "error",
        [...condaPath, "variables", k],
        `expected a variable name like "OMP_NUM_THREADS"; received ${preview(k)}`,
      );
    }
    hostile([...condaPath, "variables", k], String(v), `conda variable ${preview(k, 60)}`);
  }
  const pythons: { spec: string; index: number }[] = [];
  (env.dependencies ?? []).forEach((dep, i) => {
    if (typeof dep === "string") {
      if (hostile([...condaPath, "dependencies", i], dep, "a conda dependency")) return;
      if (isPythonSpec(dep)) pythons.push({ spec: normalizeCondaSpec(dep), index: i });
      if (!/[\s=<>!~[]/.test(normalizeCondaSpec(dep).replace(/^[^\s:]+::/, ""))) {
        add(
          ValidationCode.UNPINNED,
          "warning",
          [...condaPath, "dependencies", i],
          `conda package ${preview(dep)} has no version; it is frozen at first lock and may drift (e.g. "${dep.trim()}=1.2")`,
        );
      }
      return;
    }
    dep.pip.forEach((line, j) => {
      const path = [...condaPath, "dependencies", i, "pip", j];
      if (hostile(path, line, "a pip entry")) return;
      const s = line.trim();
      if (isPipOption(s)) return;
      if (/^(-e|--editable)[\s=]+[./~]/.test(s) || /^[./~]/.test(s) || /^file:/.test(s)) {
        add(
          ValidationCode.LOCAL_PATH,
          "warning",
          path,
          `pip entry ${preview(s)} refers to a local path, which is not part of the image build context`,
        );
      } else if (pipUnpinned(s)) {
        add(
          ValidationCode.UNPINNED,
          "warning",
          path,
          `pip package ${preview(s)} has no version; it is frozen at first lock and may drift (e.g. "${s}==1.2.3")`,
        );
      }
    });
  });
  if (!def.python.userManagedDependencies) {
    const distinct = [...new Set(pythons.map((p) => p.spec))];
    if (distinct.length === 0) {
      add(
        ValidationCode.PYTHON_MISSING,
        "error",
        [...condaPath, "dependencies"],
        `expected exactly one python in the conda document (e.g. "python=${config.pythonVersion}"); received none`,
      );
    } else if (distinct.length > 1) {
      add(
        ValidationCode.PYTHON_MULTIPLE,
        "error",
        [...condaPath, "dependencies", pythons[1]!.index],
        `expected exactly one python in the conda document; received ${distinct.length}: ${preview(distinct.join(", "))}`,
      );
    }
  }

  // Spark, R: values that reach build commands
  for (const [i, r] of def.spark.repositories.entries())
    hostile(["spark", "repositories", i], r, "a Spark repository");
  def.spark.packages.forEach((p, i) => {
    for (const k of ["group", "artifact", "version"] as const)
      hostile(["spark", "packages", i, k], p[k], `Spark ${k}`);
  });
  if (def.r) {
    const r = def.r;
    hostile(["r", "rVersion"], r.rVersion, "r.rVersion");
    hostile(["r", "rscriptPath"], r.rscriptPath, "r.rscriptPath");
    hostile(["r", "snapshotDate"], r.snapshotDate, "r.snapshotDate");
    r.cranPackages.forEach((p, i) => {
      hostile(["r", "cranPackages", i, "name"], p.name, "a CRAN package");
      hostile(["r", "cranPackages", i, "version"], p.version, "a CRAN version");
      hostile(["r", "cranPackages", i, "repository"], p.repository, "a CRAN repository");
    });
    for (const [i, p] of r.githubPackages.entries())
      hostile(["r", "githubPackages", i, "repository"], p.repository, "a GitHub package");
    for (const [i, p] of r.customUrlPackages.entries())
      hostile(["r", "customUrlPackages", i], p, "a custom URL package");
    for (const [i, p] of r.bioConductorPackages.entries())
      hostile(["r", "bioConductorPackages", i], p, "a Bioconductor package");
  }
  return issues;
}

/** Throw CoreError E_SPEC_INVALID (with every issue) when validation finds an error. */
export function assertValidDefinition(
  def: EnvironmentDefinition,
  options: ValidateOptions = {},
): DefinitionIssue[] {
  const issues = validateDefinition(def, options);
  const errors = issues.filter((i) => i.severity === "error");
  if (errors.length > 0) {
    const first = errors[0]!;
    throw new CoreError(
      CoreErrorCode.SPEC_INVALID,
      `${first.file ? `${first.file}${first.line ? `:${first.line}` : ""}: ` : ""}${first.message}` +
        (errors.length > 1 ? ` (and ${errors.length - 1} more)` : ""),
      { issues, ...(first.file ? { file: first.file } : {}), ...(first.line ? { line: first.line } : {}) },
    );
  }
  return issues;
}
