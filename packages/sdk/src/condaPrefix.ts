import { readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { canonicalizeName } from "@mlenv/core";
import { CondaDependencies } from "./condaDependencies";
import { Environment } from "./environment";
import { MlenvError, preview, SdkErrorCodes } from "./errors";

/** One package found in a conda prefix. */
export interface PrefixPackage {
  name: string;
  version: string;
  /** conda build string (conda packages only). */
  build?: string;
  /** conda channel name or URL (conda packages only). */
  channel?: string;
  installer: "conda" | "pip";
}

/** Options of {@link fromExistingCondaEnvironment}. */
export interface FromPrefixOptions {
  /** Pin conda packages to `name=version=build` instead of `name=version` (not portable across platforms). */
  includeBuilds?: boolean;
  /** Environment variables an environment name is looked up with (default `process.env`). */
  env?: Record<string, string | undefined>;
}

function isPrefix(dir: string): boolean {
  try {
    return statSync(join(dir, "conda-meta")).isDirectory();
  } catch {
    return false;
  }
}

/** conda's root prefix, as conda and mamba name it in the environment (or null). */
function rootPrefix(env: Record<string, string | undefined>): string | null {
  for (const v of [env.CONDA_ROOT, env.MAMBA_ROOT_PREFIX, env.CONDA_ROOT_PREFIX]) if (v) return v;
  // CONDA_EXE is <root>/bin/conda (or <root>/condabin/conda)
  if (env.CONDA_EXE) return dirname(dirname(env.CONDA_EXE));
  // an activated environment: <root>/envs/<name>, or the root itself
  const active = env.CONDA_PREFIX;
  if (active) {
    const parent = dirname(active);
    return basename(parent) === "envs" ? dirname(parent) : active;
  }
  return null;
}

/**
 * The prefix of a conda environment given by name, looked up where conda looks: the directories
 * of `CONDA_ENVS_PATH` (and `CONDA_ENVS_DIRS`), the prefixes listed in `~/.conda/environments.txt`,
 * and `envs/` of the root prefix (`base` is the root prefix itself). Throws `E_CONDA_PREFIX`
 * naming every place looked in when none has it.
 */
export function findCondaEnvironment(
  name: string,
  env: Record<string, string | undefined> = process.env,
): string {
  if (!/^[A-Za-z0-9_.+-]{1,255}$/.test(name) || name === "." || name === "..") {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a conda environment name such as "myenv" (or a prefix path); received ${preview(name)}`,
    );
  }
  const looked: string[] = [];
  const candidates: string[] = [];
  for (const list of [env.CONDA_ENVS_PATH, env.CONDA_ENVS_DIRS]) {
    for (const dir of (list ?? "").split(delimiter)) if (dir) candidates.push(join(dir, name));
  }
  const home = env.HOME || env.USERPROFILE || homedir();
  const listed = join(home, ".conda", "environments.txt");
  let listedText = "";
  try {
    listedText = readFileSync(listed, "utf8");
  } catch {
    listedText = "";
  }
  const listedPrefixes = listedText
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  for (const p of listedPrefixes) if (basename(p) === name) candidates.push(p);
  const root = rootPrefix(env);
  if (root) candidates.push(name === "base" ? root : join(root, "envs", name));
  for (const c of candidates) {
    looked.push(c);
    if (isPrefix(c)) return c;
  }
  throw new MlenvError(
    SdkErrorCodes.condaPrefix,
    `Expected a conda environment named ${preview(name)} in CONDA_ENVS_PATH, ${listed} or the root prefix's envs/ (conda env list shows them); looked in ${looked.length ? looked.join(", ") : "none of them (none is set)"}`,
  );
}

function channelName(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const anaconda = /^https?:\/\/conda\.anaconda\.org\/([^/]+)/.exec(raw);
  if (anaconda?.[1]) return anaconda[1];
  if (/^https?:\/\/repo\.anaconda\.com\/pkgs\/(main|r|free|msys2)/.test(raw) || /^pkgs\//.test(raw))
    return "defaults";
  return raw.replace(/\/(noarch|linux-64|linux-aarch64|linux-ppc64le|osx-64|osx-arm64|win-64)\/?$/, "");
}

function readJson(path: string): Record<string, unknown> {
  const value: unknown = JSON.parse(readFileSync(path, "utf8"));
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`not a JSON object: ${preview(value)}`);
  }
  return value as Record<string, unknown>;
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function readHeaders(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
    if (m?.[1] && m[2] !== undefined && !out.has(m[1].toLowerCase()))
      out.set(m[1].toLowerCase(), m[2].trim());
  }
  return out;
}

/**
 * Read the packages of a conda prefix without conda: `conda-meta/*.json` for conda packages and
 * `*.dist-info` (METADATA + INSTALLER) under site-packages for pip-installed ones.
 */
export function readCondaPrefix(prefix: string): PrefixPackage[] {
  const meta = join(prefix, "conda-meta");
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(meta);
  } catch {
    st = undefined;
  }
  if (!st?.isDirectory()) {
    throw new MlenvError(
      SdkErrorCodes.condaPrefix,
      `Expected a conda environment prefix containing conda-meta/ (e.g. ~/miniconda3/envs/myenv); ${prefix} has none.`,
    );
  }
  const packages: PrefixPackage[] = [];
  const condaNames = new Set<string>();
  for (const file of listDir(meta).sort()) {
    if (!file.endsWith(".json")) continue;
    let rec: Record<string, unknown>;
    try {
      rec = readJson(join(meta, file));
    } catch (cause) {
      throw new MlenvError(
        SdkErrorCodes.condaPrefix,
        `Expected conda-meta/${file} to be a package record like {"name":"numpy","version":"1.26.4",...}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const { name, version, build, channel } = rec;
    if (typeof name !== "string" || typeof version !== "string") {
      throw new MlenvError(
        SdkErrorCodes.condaPrefix,
        `Expected conda-meta/${file} to name a package and version like {"name":"numpy","version":"1.26.4"}; received ${preview(rec)}`,
      );
    }
    const pkg: PrefixPackage = { name, version, installer: "conda" };
    if (typeof build === "string") pkg.build = build;
    const ch = channelName(typeof channel === "string" ? channel : undefined);
    if (ch) pkg.channel = ch;
    packages.push(pkg);
    condaNames.add(canonicalizeName(name));
  }
  const siteDirs: string[] = [join(prefix, "Lib", "site-packages")];
  for (const lib of listDir(join(prefix, "lib"))) {
    if (/^python\d/.test(lib)) siteDirs.push(join(prefix, "lib", lib, "site-packages"));
  }
  const pip: PrefixPackage[] = [];
  for (const site of siteDirs) {
    for (const entry of listDir(site).sort()) {
      if (!entry.endsWith(".dist-info")) continue;
      const dir = join(site, entry);
      let installer = "";
      try {
        installer = readFileSync(join(dir, "INSTALLER"), "utf8").trim();
      } catch {
        installer = "";
      }
      if (installer === "conda") continue;
      let headers: Map<string, string>;
      try {
        headers = readHeaders(readFileSync(join(dir, "METADATA"), "utf8"));
      } catch {
        continue;
      }
      const name = headers.get("name");
      const version = headers.get("version");
      if (!name || !version || condaNames.has(canonicalizeName(name))) continue;
      pip.push({ name, version, installer: "pip" });
    }
  }
  pip.sort((a, b) => (canonicalizeName(a.name) < canonicalizeName(b.name) ? -1 : 1));
  return [...packages, ...pip];
}

/**
 * An environment from an existing local conda environment, read directly (no conda needed):
 * conda packages pinned to their installed versions, channels in order of first use,
 * pip-installed packages pinned with `==` in the pip block. `condaEnvironment` is a prefix path,
 * or an environment name as the reference takes (`"myenv"`, looked up with
 * {@link findCondaEnvironment}).
 */
export function fromExistingCondaEnvironment(
  name: string,
  condaEnvironment: string,
  options: FromPrefixOptions = {},
): Environment {
  const looksLikePath = /[\\/]/.test(condaEnvironment) || /^[.~]/.test(condaEnvironment);
  const prefix =
    looksLikePath || isPrefix(resolve(condaEnvironment))
      ? condaEnvironment
      : findCondaEnvironment(condaEnvironment, options.env ?? process.env);
  const packages = readCondaPrefix(prefix);
  const channels: string[] = [];
  for (const p of packages) {
    if (p.channel && !channels.includes(p.channel)) channels.push(p.channel);
  }
  // the prefix's own python (a conda package of it) is the one pinned
  const cd = new CondaDependencies({ channels, dependencies: [] });
  for (const p of packages.filter((x) => x.installer === "conda")) {
    cd.addCondaPackage(
      options.includeBuilds && p.build ? `${p.name}=${p.version}=${p.build}` : `${p.name}=${p.version}`,
    );
  }
  for (const p of packages.filter((x) => x.installer === "pip")) cd.addPipPackage(`${p.name}==${p.version}`);
  const env = new Environment(name);
  env.python.condaDependencies = cd;
  env.toDefinition();
  return env;
}
