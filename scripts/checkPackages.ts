/**
 * Build, pack and lint the publishable packages, the way a consumer receives them.
 *
 *   pnpm check:packages [--out DIR] [--no-build] [--no-lint]
 *
 * 1. builds every publishable package with `pnpm -r` (topological; turbo refuses the
 *    sdk <-> server dev-dependency cycle),
 * 2. packs each with `pnpm pack` (workspace:^ becomes a version; `publishConfig.exports` drops the
 *    in-repo `@mlenv/source` condition, whose src/ files are not in the tarball),
 * 3. runs publint (warnings are errors) and @arethetypeswrong/cli (ESM-only profile) on each
 *    tarball, and checks that every path the packed `exports` names is inside the tarball.
 *
 * Prints one line per package; exits 1 on any problem. `--out` keeps the tarballs
 * (test/packages.test.ts installs them into a scratch project).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { publint } from "publint";
import { formatMessage } from "publint/utils";
import { parse as parseYaml } from "yaml";

export const PUBLISHED = [
  "api",
  "core",
  "resolver",
  "conda-installer",
  "sdk",
  "web-ui",
  "cli",
  "server",
] as const;

const root = resolve(import.meta.dirname, "..");

/** `pnpm`, or the packageManager's version through npx where pnpm is not on PATH. */
function pnpm(args: string[], cwd: string): string {
  if (spawnSync("pnpm", ["--version"], { encoding: "utf8" }).status === 0) return run("pnpm", args, cwd);
  const pm = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { packageManager: string })
    .packageManager;
  return run("npx", ["-y", pm, ...args], cwd);
}

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** Paths named by an `exports` value (strings at any depth). */
function exportTargets(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (value && typeof value === "object") return Object.values(value).flatMap(exportTargets);
  return [];
}

/**
 * Run `f` while holding a lock on this checkout's dist/ folders: tests that build and then read
 * dist (packing, the server image) run in parallel vitest workers and must not clean each other's
 * output mid-way.
 */
export function withBuildLock<T>(f: () => T): T {
  const lock = join(root, "node_modules", ".cache", "mlenv-build.lock");
  mkdirSync(dirname(lock), { recursive: true });
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      // A lock older than 20 minutes belongs to a process that died.
      if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline)
        throw new Error(`Expected the build lock ${lock} to be released within 20 minutes`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    }
  }
  try {
    return f();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Build every published package (and what it depends on) with `pnpm -r`. */
export function buildPackages(): void {
  const filters = PUBLISHED.flatMap((p) => ["--filter", `./packages/${p}`]);
  pnpm(["-r", ...filters, "run", "build"], root);
}

/** Build (optional) and pack every published package into `outDir`; returns tarball paths by package. */
export function buildAndPack(outDir: string, options: { build?: boolean } = {}): Record<string, string> {
  return withBuildLock(() => packAll(outDir, options));
}

function packAll(outDir: string, options: { build?: boolean }): Record<string, string> {
  if (options.build !== false) buildPackages();
  mkdirSync(outDir, { recursive: true });
  const out: Record<string, string> = {};
  for (const p of PUBLISHED) {
    const before = new Set(readdirSync(outDir));
    pnpm(["pack", "--pack-destination", outDir], join(root, "packages", p));
    const made = readdirSync(outDir).filter((f) => f.endsWith(".tgz") && !before.has(f));
    const name =
      made[0] ?? readdirSync(outDir).find((f) => f.startsWith(`mlenv-${p}-`) && f.endsWith(".tgz"));
    if (!name) throw new Error(`Expected pnpm pack to write a tarball for @mlenv/${p} into ${outDir}`);
    out[p] = join(outDir, name);
  }
  return out;
}

/** Pack one package (as it is; no build) into `<outDir>/<pkg>/`; returns the tarball's path. */
export function packPackage(pkg: string, outDir: string): string {
  const dir = join(outDir, pkg);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  pnpm(["pack", "--pack-destination", dir], join(root, "packages", pkg));
  const made = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!made) throw new Error(`Expected pnpm pack to write a tarball for @mlenv/${pkg} into ${dir}`);
  return join(dir, made);
}

/** The package.json inside a tarball, as a consumer's package manager reads it. */
export function packedManifest(tarball: string): PackedManifest {
  return JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
}

export interface PackedManifest {
  name: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** What installing the manifest brings: dependencies, optional ones, and peers that are not optional. */
function installedBy(m: PackedManifest): string[] {
  const peers = Object.keys(m.peerDependencies ?? {}).filter((n) => !m.peerDependenciesMeta?.[n]?.optional);
  return [...Object.keys(m.dependencies ?? {}), ...Object.keys(m.optionalDependencies ?? {}), ...peers];
}

/**
 * The names of every package that installing the packed `@mlenv/<pkg>` brings, its own included:
 * our packages are packed (their published manifests decide), third-party ones are followed through
 * pnpm-lock.yaml at the versions this workspace resolved. Tarballs already in `<outDir>/<pkg>/` are
 * reused.
 */
export function installClosure(pkg: string, outDir: string): Set<string> {
  const lock = parseYaml(readFileSync(join(root, "pnpm-lock.yaml"), "utf8")) as {
    importers: Record<string, Record<string, Record<string, { version: string }>>>;
    snapshots: Record<string, Record<string, Record<string, string>>>;
  };
  const names = new Set<string>();
  const queue: string[] = []; // third-party snapshot keys: name@version(peers)
  const ours = [pkg];
  while (ours.length) {
    const p = ours.pop()!;
    const packed = join(outDir, p);
    const tarball = existsSync(packed)
      ? join(packed, readdirSync(packed).find((f) => f.endsWith(".tgz")) ?? "")
      : packPackage(p, outDir);
    const manifest = packedManifest(tarball);
    names.add(manifest.name);
    const importer = lock.importers[`packages/${p}`] ?? {};
    for (const name of installedBy(manifest)) {
      if (name.startsWith("@mlenv/")) {
        if (!names.has(name)) ours.push(name.slice("@mlenv/".length));
        continue;
      }
      const version =
        importer.dependencies?.[name]?.version ?? importer.optionalDependencies?.[name]?.version;
      if (!version) throw new Error(`Expected pnpm-lock.yaml to resolve ${name} for packages/${p}`);
      queue.push(`${name}@${version}`);
    }
  }
  const visited = new Set<string>();
  while (queue.length) {
    const key = queue.pop()!;
    if (visited.has(key)) continue;
    visited.add(key);
    names.add(key.slice(0, key.indexOf("@", 1)));
    const snap = lock.snapshots[key];
    if (!snap) throw new Error(`Expected pnpm-lock.yaml to hold the snapshot ${key}`);
    for (const [name, version] of Object.entries({ ...snap.dependencies, ...snap.optionalDependencies }))
      queue.push(`${name}@${version}`);
  }
  return names;
}

/** Problems found in one tarball (empty: fine). */
export async function lintTarball(tarball: string): Promise<string[]> {
  const problems: string[] = [];
  const bytes = readFileSync(tarball);
  const { messages, pkg } = await publint({
    pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
    level: "warning",
    strict: true,
  });
  for (const m of messages) problems.push(`publint ${m.type}: ${formatMessage(m, pkg, { color: false })}`);

  const listing = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" })
    .split("\n")
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, "./"));
  const files = new Set(listing);
  const packedPkg = JSON.parse(
    execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }),
  );
  for (const target of exportTargets(packedPkg.exports)) {
    if (!files.has(target)) problems.push(`exports names ${target}, which is not in the tarball`);
  }
  if (JSON.stringify(packedPkg).includes("workspace:"))
    problems.push("package.json still names workspace: ranges");
  if (JSON.stringify(packedPkg).includes('"catalog:'))
    problems.push("package.json still names catalog: ranges");
  if (!files.has("./LICENSE")) problems.push("no LICENSE in the tarball");
  if (packedPkg.name === "@mlenv/web-ui" && !files.has("./dist/ui/app.js")) {
    problems.push(
      "no prebuilt web UI (dist/ui/app.js): the server would try to bundle sources it does not ship",
    );
  }

  const attw = spawnSync(
    join(root, "node_modules", ".bin", "attw"),
    [tarball, "--profile", "esm-only", "--format", "ascii", "--no-color", "--no-emoji"],
    { encoding: "utf8" },
  );
  if (attw.status !== 0) problems.push(`attw:\n${attw.stdout}${attw.stderr}`);
  return problems;
}

async function main(argv: string[]): Promise<number> {
  const outIdx = argv.indexOf("--out");
  const keep = outIdx >= 0 ? argv[outIdx + 1] : undefined;
  const outDir = keep ? resolve(keep) : mkdtempSync(join(tmpdir(), "mlenv-pack-"));
  try {
    const tarballs = buildAndPack(outDir, { build: !argv.includes("--no-build") });
    if (argv.includes("--no-lint")) {
      for (const [p, t] of Object.entries(tarballs)) process.stdout.write(`@mlenv/${p}: ${t}\n`);
      return 0;
    }
    let failed = 0;
    for (const [p, t] of Object.entries(tarballs)) {
      const problems = await lintTarball(t);
      process.stdout.write(`${problems.length ? "FAIL" : "ok  "} @mlenv/${p} (${t.split("/").pop()})\n`);
      for (const line of problems) process.stdout.write(`  ${line.replaceAll("\n", "\n  ")}\n`);
      if (problems.length) failed++;
    }
    return failed ? 1 : 0;
  } finally {
    if (!keep) rmSync(outDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`check:packages: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
