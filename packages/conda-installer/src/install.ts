import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import type { Lock, LockedCondaPackage, LockedPipPackage } from "@mlenv/core";
import {
  type CachedPackage,
  defaultPackageCacheDir,
  ensureCached,
  packageFilename,
  packageLabel,
} from "./cache";
import { CondaInstallError, CondaInstallErrorCode, preview, redactUrl } from "./errors";
import type { FetchOptions } from "./fetch";
import {
  type Journal,
  type LinkedPath,
  type LinkPlan,
  linkPackage,
  type PythonLayout,
  planPackage,
} from "./link";
import { readPackageInfo } from "./packageInfo";

/** The conda subdir of this machine (`linux-64`, `osx-arm64`, ...). */
export function currentPlatform(platform: string = process.platform, arch: string = process.arch): string {
  const os = platform === "darwin" ? "osx" : platform === "win32" ? "win" : platform;
  const a =
    arch === "x64"
      ? "64"
      : arch === "arm64"
        ? os === "osx" || os === "win"
          ? "arm64"
          : "aarch64"
        : arch === "ppc64"
          ? "ppc64le"
          : arch;
  return `${os}-${a}`;
}

/** Progress while installing (for a progress bar or `--json` lines). */
export type InstallProgress =
  | { phase: "fetch"; package: string; bytes: number }
  | { phase: "cached"; package: string; done: number; total: number }
  | { phase: "link"; package: string; done: number; total: number }
  | { phase: "unlink"; package: string }
  | { phase: "pip"; packages: number };

/** Options of {@link installLock}. */
export interface InstallOptions {
  /** The environment folder to create or update. */
  prefix: string;
  /**
   * The path the environment will have where it is used, when that is not `prefix` (an image
   * build installs into a staging folder and copies the result to this path in the image):
   * prefix placeholders, entry point scripts and link scripts' `PREFIX` name it. Default: `prefix`.
   * With a target prefix the pip part cannot run here (its python would not find itself): pass
   * `pip: false` and install it where the environment lives.
   */
  targetPrefix?: string;
  lock: Lock;
  /** The lock's platform to install (default: this machine's, see {@link currentPlatform}). */
  platform?: string;
  /** The package cache (default {@link defaultPackageCacheDir}). */
  cacheDir?: string;
  /** Request headers per URL (credentials for private channels). */
  headers?: FetchOptions["headers"];
  /** Packages fetched and extracted at once (default 4). */
  concurrency?: number;
  /** Run packages' pre-/post-link scripts (default false: they are reported as not run). */
  runLinkScripts?: boolean;
  /** Install the lock's pip part with the prefix's own python (default true). */
  pip?: boolean;
  /** Environment of pip and link scripts (default: this process's, without PIP_* and PYTHON*). */
  env?: NodeJS.ProcessEnv;
  /** What `conda-meta/history` records as the command. */
  command?: string;
  onProgress?: (event: InstallProgress) => void;
}

/** What {@link installLock} did. */
export interface InstallResult {
  prefix: string;
  platform: string;
  /** name-version-build of packages linked now. */
  linked: string[];
  /** name-version-build of packages removed. */
  unlinked: string[];
  /** Packages already installed and left alone. */
  unchanged: string[];
  /** pip distributions installed (name==version). */
  pip: string[];
  /** Packages fetched now (the rest came from the cache). */
  fetched: string[];
  /** Bytes fetched. */
  fetchedBytes: number;
  /** Things the user should know (link scripts not run, files replaced). */
  warnings: string[];
}

interface InstalledRecord {
  file: string;
  name: string;
  version: string;
  build: string;
  url?: string;
  files: string[];
}

function readInstalled(prefix: string): InstalledRecord[] {
  const meta = join(prefix, "conda-meta");
  if (!existsSync(meta)) return [];
  const out: InstalledRecord[] = [];
  for (const f of readdirSync(meta).sort()) {
    if (!f.endsWith(".json")) continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(readFileSync(join(meta, f), "utf8"));
    } catch (cause) {
      throw new CondaInstallError(
        CondaInstallErrorCode.PREFIX_INVALID,
        `${prefix}: conda-meta/${f} is not valid JSON; the prefix is damaged`,
        { cause },
      );
    }
    if (typeof rec.name !== "string" || typeof rec.version !== "string" || typeof rec.build !== "string") {
      throw new CondaInstallError(
        CondaInstallErrorCode.PREFIX_INVALID,
        `${prefix}: conda-meta/${f} names no package (expected name, version, build); received ${preview(rec)}`,
      );
    }
    out.push({
      file: f,
      name: rec.name,
      version: rec.version,
      build: rec.build,
      ...(typeof rec.url === "string" ? { url: rec.url } : {}),
      files: Array.isArray(rec.files) ? rec.files.filter((x): x is string => typeof x === "string") : [],
    });
  }
  return out;
}

async function mapLimit<T, R>(items: T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const i = next++;
      try {
        out[i] = await f(items[i] as T);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
  return out;
}

function cleanEnv(env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  if (env) return env;
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("PIP_") && !k.startsWith("PYTHON")) out[k] = v;
  return { ...out, PIP_DISABLE_PIP_VERSION_CHECK: "1", PIP_NO_INPUT: "1" };
}

function runProcess(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("error", (e) => done({ code: -1, out: `${out}${String(e)}` }));
    child.on("close", (code) => done({ code, out }));
  });
}

function checkPrefix(prefix: string): string {
  if (!isAbsolute(prefix) && !prefix)
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_INVALID,
      "expected a prefix path like /opt/envs/train; received an empty string",
    );
  const abs = resolve(prefix);
  if (/[\0\n\r]/.test(abs) || abs === "/") {
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_INVALID,
      `expected a prefix path like /opt/envs/train; received ${preview(prefix)}`,
    );
  }
  return abs;
}

function historyLine(p: LockedCondaPackage): string {
  const channel = p.channel.replace(/\/+$/, "");
  return `${channel}/${p.subdir}::${packageLabel(p)}`;
}

/** Remove what a failed transaction created (deepest first), leaving everything else. */
function rollBack(journal: Journal): void {
  for (const p of [...journal.created].reverse()) {
    try {
      const st = lstatSync(p);
      if (st.isDirectory()) rmdirSync(p);
      else rmSync(p, { force: true });
    } catch {
      // already gone, or a folder that holds files we did not create: leave it
    }
  }
}

/**
 * Install the conda packages of one platform of a lock into a prefix, then its pip part with the
 * prefix's own python and pip (hashes required). Everything is fetched, verified, extracted and
 * checked (paths, path types, clashes) before the first file is linked. A new prefix is built in
 * a staging folder beside it and renamed into place; an existing one is updated in place
 * (removed packages unlinked, added ones linked, unchanged ones left alone) and rolled back when
 * linking fails.
 */
export async function installLock(options: InstallOptions): Promise<InstallResult> {
  const prefix = checkPrefix(options.prefix);
  const target = options.targetPrefix === undefined ? prefix : checkPrefix(options.targetPrefix);
  if (
    target !== prefix &&
    options.pip !== false &&
    options.lock.platforms[options.platform ?? currentPlatform()]?.pip.length
  ) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_INVALID,
      `a prefix installed for another path (${preview(target)}) cannot run its pip part here; pass pip: false and install the pip part where the environment lives`,
    );
  }
  const platform = options.platform ?? currentPlatform();
  const locked = options.lock.platforms[platform];
  if (!locked) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PLATFORM_MISMATCH,
      `the lock has no packages for ${platform} (it locks ${Object.keys(options.lock.platforms).join(", ") || "no platform"}); re-lock with \`mlenv env lock --platform ${platform}\``,
    );
  }
  for (const p of locked.conda) {
    if (p.subdir !== platform && p.subdir !== "noarch") {
      throw new CondaInstallError(
        CondaInstallErrorCode.PLATFORM_MISMATCH,
        `${packageLabel(p)} is built for ${p.subdir}, not ${platform} (${redactUrl(p.url)}); the lock's ${platform} section is wrong, re-lock it`,
        { package: packageLabel(p) },
      );
    }
  }
  const cacheDir = options.cacheDir ?? defaultPackageCacheDir();
  const warnings: string[] = [];
  const progress = options.onProgress ?? (() => {});

  // what changes
  const installed = readInstalled(prefix);
  const fresh = installed.length === 0 && !existsSync(join(prefix, "conda-meta"));
  if (fresh && existsSync(prefix) && readdirSync(prefix).length > 0) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_INVALID,
      `${prefix} exists, is not empty and is not a conda environment (no conda-meta/); choose a new or empty folder`,
    );
  }
  const key = (name: string, version: string, build: string, url?: string) =>
    `${name}-${version}-${build} ${url ?? ""}`;
  const wanted = new Map(locked.conda.map((p) => [key(p.name, p.version, p.build, p.url), p]));
  const have = new Map(installed.map((r) => [key(r.name, r.version, r.build, r.url), r]));
  const toAdd = locked.conda.filter((p) => !have.has(key(p.name, p.version, p.build, p.url)));
  const toRemove = installed.filter((r) => !wanted.has(key(r.name, r.version, r.build, r.url)));
  const unchanged = installed.filter((r) => wanted.has(key(r.name, r.version, r.build, r.url)));

  // 1. fetch, verify and extract everything into the cache
  const fetchedNames: string[] = [];
  let fetchedBytes = 0;
  let cachedCount = 0;
  const cached: CachedPackage[] = await mapLimit(toAdd, options.concurrency ?? 4, async (pkg) => {
    const label = packageLabel(pkg);
    const c = await ensureCached({
      cacheDir,
      pkg,
      fetch: {
        ...(options.headers ? { headers: options.headers } : {}),
        onBytes: (n) => {
          fetchedBytes += n;
          progress({ phase: "fetch", package: label, bytes: fetchedBytes });
        },
      },
    });
    if (c.fetched) fetchedNames.push(label);
    progress({ phase: "cached", package: label, done: ++cachedCount, total: toAdd.length });
    return c;
  });

  // 2. plan every package and check clashes before touching the prefix
  const python = locked.conda.find((p) => p.name === "python");
  const pyVersion = python ? /^(\d+\.\d+)/.exec(python.version)?.[1] : undefined;
  const layout: PythonLayout | undefined = pyVersion
    ? { sitePackages: `lib/python${pyVersion}/site-packages` }
    : undefined;
  const plans: LinkPlan[] = toAdd.map((pkg, i) => {
    const label = packageLabel(pkg);
    const dir = (cached[i] as CachedPackage).dir;
    return planPackage({ label, cacheDir: dir, info: readPackageInfo(dir, label), python: layout });
  });
  const owner = new Map<string, string>();
  for (const r of unchanged)
    for (const f of r.files) owner.set(f, `${r.name}-${r.version}-${r.build} (installed)`);
  for (const plan of plans) {
    const files = [
      ...plan.targets.filter((t) => t.source.pathType !== "directory").map((t) => t.target),
      ...plan.entryPoints.map((e) => e.target),
    ];
    for (const f of files) {
      const other = owner.get(f);
      if (other && other !== plan.label) {
        throw new CondaInstallError(
          CondaInstallErrorCode.FILE_CLASH,
          `${other} and ${plan.label} both install ${f}; a conda environment cannot hold both (nothing was linked)`,
          { package: plan.label },
        );
      }
      owner.set(f, plan.label);
    }
  }
  const linkScripts = plans.flatMap((plan) =>
    (["pre-link", "post-link"] as const)
      .map((kind) => ({ kind, plan, rel: `bin/.${String(plan.info.index.name ?? "")}-${kind}.sh` }))
      .filter((s) => s.plan.targets.some((t) => t.target === s.rel)),
  );
  if (!options.runLinkScripts) {
    for (const s of linkScripts)
      warnings.push(
        `${s.plan.label}: ${s.kind} script ${s.rel} was not run (pass runLinkScripts / --run-link-scripts to run it)`,
      );
  }

  // 3. link: a new prefix in a staging folder renamed into place; an existing one in place
  const root = fresh
    ? join(
        dirname(prefix),
        `.${(prefix.split("/").pop() ?? "").slice(0, 100)}.mlenv-staging-${randomBytes(4).toString("hex")}`,
      )
    : prefix;
  const trash = join(prefix, `.mlenv-trash-${randomBytes(4).toString("hex")}`);
  const moved: { from: string; to: string }[] = [];
  const journal: Journal = { created: [] };
  const linked: string[] = [];
  const env = cleanEnv(options.env);
  try {
    mkdirSync(join(root, "conda-meta"), { recursive: true });
    for (const r of toRemove) {
      progress({ phase: "unlink", package: `${r.name}-${r.version}-${r.build}` });
      for (const f of [...r.files, `conda-meta/${r.file}`]) {
        const from = join(prefix, f);
        if (!existsSync(from) && !isLink(from)) continue;
        const to = join(trash, f);
        mkdirSync(dirname(to), { recursive: true });
        renameSync(from, to);
        moved.push({ from, to });
      }
    }
    const dirs = new Set<string>();
    const hardlinks = { ok: true };
    for (const [i, plan] of plans.entries()) {
      const pkg = toAdd[i] as LockedCondaPackage;
      if (options.runLinkScripts)
        await runLinkScript(linkScripts, plan, "pre-link", { root, prefix: target, pkg, env });
      const paths = linkPackage({ plan, root, prefix: target, journal, dirs, hardlinks });
      const metaFile = join(root, "conda-meta", `${plan.label}.json`);
      writeFileSync(metaFile, `${JSON.stringify(prefixRecord(pkg, plan, paths), null, 2)}\n`);
      journal.created.push(metaFile);
      linked.push(plan.label);
      progress({ phase: "link", package: plan.label, done: linked.length, total: plans.length });
    }
    const when = new Date().toISOString().replace("T", " ").slice(0, 19);
    const history = join(root, "conda-meta", "history");
    const added = toAdd.map((p) => `+${historyLine(p)}`);
    const removed = toRemove.map(
      (r) => `-${r.url ? r.url.replace(/\/[^/]*$/, "") : ""}::${r.name}-${r.version}-${r.build}`,
    );
    appendFileSync(
      history,
      `==> ${when} <==\n# cmd: ${options.command ?? "mlenv env install"}\n# mlenv conda-installer\n${[...removed, ...added].join("\n")}\n`,
    );
    if (fresh) {
      if (existsSync(prefix)) rmdirSync(prefix);
      mkdirSync(dirname(prefix), { recursive: true });
      renameSync(root, prefix);
    }
    if (options.runLinkScripts) {
      for (const [i, plan] of plans.entries())
        await runLinkScript(linkScripts, plan, "post-link", {
          root: prefix,
          prefix: target,
          pkg: toAdd[i] as LockedCondaPackage,
          env,
        });
    }
  } catch (e) {
    if (fresh) {
      rmSync(root, { recursive: true, force: true });
      if (existsSync(prefix) && readdirSync(prefix).some((f) => f === "conda-meta"))
        rmSync(prefix, { recursive: true, force: true });
    } else {
      rollBack(journal);
      for (const m of [...moved].reverse()) {
        mkdirSync(dirname(m.from), { recursive: true });
        renameSync(m.to, m.from);
      }
      rmSync(trash, { recursive: true, force: true });
    }
    throw e;
  }
  rmSync(trash, { recursive: true, force: true });
  if (!fresh) removeEmptyDirs(prefix, toRemove);

  // 4. pip, with the prefix's own python
  const pip: string[] = [];
  if (options.pip !== false && locked.pip.length) {
    progress({ phase: "pip", packages: locked.pip.length });
    try {
      await installPip(prefix, locked.pip, env);
    } catch (e) {
      if (fresh) rmSync(prefix, { recursive: true, force: true });
      throw e;
    }
    for (const p of locked.pip) pip.push(`${p.name}==${p.version}`);
  }
  return {
    prefix,
    platform,
    linked,
    unlinked: toRemove.map((r) => `${r.name}-${r.version}-${r.build}`),
    unchanged: unchanged.map((r) => `${r.name}-${r.version}-${r.build}`),
    pip,
    fetched: fetchedNames.sort(),
    fetchedBytes,
    warnings,
  };
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function removeEmptyDirs(prefix: string, removed: InstalledRecord[]): void {
  const dirs = new Set<string>();
  for (const r of removed)
    for (const f of r.files) for (let d = dirname(f); d !== "." && d !== "/"; d = dirname(d)) dirs.add(d);
  for (const d of [...dirs].sort((a, b) => b.length - a.length)) {
    try {
      rmdirSync(join(prefix, d));
    } catch {
      // not empty: other packages' files live there
    }
  }
}

async function runLinkScript(
  scripts: { kind: "pre-link" | "post-link"; plan: LinkPlan; rel: string }[],
  plan: LinkPlan,
  kind: "pre-link" | "post-link",
  ctx: { root: string; prefix: string; pkg: LockedCondaPackage; env: NodeJS.ProcessEnv },
): Promise<void> {
  const s = scripts.find((x) => x.plan === plan && x.kind === kind);
  if (!s) return;
  const file = kind === "pre-link" ? join(plan.cacheDir, s.rel) : join(ctx.root, s.rel);
  const r = await runProcess("/bin/bash", [file], {
    ...ctx.env,
    PREFIX: ctx.prefix,
    PKG_NAME: ctx.pkg.name,
    PKG_VERSION: ctx.pkg.version,
    PKG_BUILDNUM: String(ctx.pkg.buildNumber ?? 0),
  });
  if (r.code !== 0) {
    throw new CondaInstallError(
      CondaInstallErrorCode.LINK_SCRIPT_FAILED,
      `${plan.label}: ${kind} script ${s.rel} exited ${r.code}: ${r.out.slice(-500)}`,
      { package: plan.label },
    );
  }
}

async function installPip(prefix: string, pkgs: LockedPipPackage[], env: NodeJS.ProcessEnv): Promise<void> {
  const python = join(prefix, "bin", "python");
  if (!existsSync(python)) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PIP_FAILED,
      `${prefix}: the lock has pip packages but the prefix has no bin/python; add python and pip to the conda dependencies`,
    );
  }
  const reqDir = join(prefix, `.mlenv-pip-${randomBytes(4).toString("hex")}`);
  mkdirSync(reqDir);
  const req = join(reqDir, "requirements.txt");
  writeFileSync(req, pkgs.map((p) => `${p.name} @ ${p.url} --hash=sha256:${p.sha256}\n`).join(""));
  try {
    const r = await runProcess(
      python,
      [
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--require-hashes",
        "--no-warn-script-location",
        "-r",
        req,
      ],
      env,
    );
    if (r.code !== 0) {
      throw new CondaInstallError(
        CondaInstallErrorCode.PIP_FAILED,
        `pip install in ${prefix} exited ${r.code}: ${r.out.trim().slice(-800)}`,
      );
    }
  } finally {
    rmSync(reqDir, { recursive: true, force: true });
  }
}

/** `conda-meta/<name>-<version>-<build>.json`: what conda and mamba read back. */
function prefixRecord(pkg: LockedCondaPackage, plan: LinkPlan, paths: LinkedPath[]): Record<string, unknown> {
  return {
    ...plan.info.index,
    name: pkg.name,
    version: pkg.version,
    build: pkg.build,
    build_number: pkg.buildNumber ?? plan.info.index.build_number ?? 0,
    channel: pkg.channel,
    subdir: pkg.subdir,
    url: pkg.url,
    fn: packageFilename(pkg.url),
    depends: pkg.depends,
    ...(pkg.sha256 ? { sha256: pkg.sha256 } : {}),
    ...(pkg.md5 ? { md5: pkg.md5 } : {}),
    files: paths.filter((p) => p.path_type !== "directory").map((p) => p._path),
    paths_data: { paths, paths_version: 1 },
    link: { source: plan.cacheDir, type: 1 },
    extracted_package_dir: plan.cacheDir,
    requested_spec: "",
  };
}
