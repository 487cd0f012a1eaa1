/**
 * Build the portable distribution: one tarball that runs `mlenv` (the server included) on a Linux
 * x86-64 machine with no Node, no package registry and no network.
 *
 *   pnpm build:portable [--out-dir dist]     → dist/mlenv-<version>-linux-x64.tar.xz
 *
 * Layout inside the tarball (one top folder, `mlenv-<version>-linux-x64/`):
 *   mlenv                      launcher (sh): runs lib/cli/mlenv.cjs with lib/node
 *   lib/node                   this machine's Node runtime (as scripts/build-server-image.sh copies it)
 *   lib/cli/mlenv.cjs          the CLI and server bundled by esbuild (scripts/build-binary.ts)
 *   lib/cli/ui/app.js          the prebuilt web UI
 *   lib/node_modules/…         better-sqlite3 (its compiled addon only) with bindings and file-uri-to-path
 *   python/                    the run and service helpers (mlenv_run.py, mlenv_serve.py, …)
 *
 * Nothing is fetched: the addon is the one pnpm already compiled into node_modules, so the tarball
 * runs where this machine's Node binary runs (glibc at least this machine's).
 */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { writeWebUiAssets } from "../packages/web-ui/src/buildAssets";
import { bundleCli } from "./build-binary";

const root = resolve(import.meta.dirname, "..");

/** The version in the tarball's name: the CLI package's. */
export function portableVersion(): string {
  return (
    JSON.parse(readFileSync(join(root, "packages", "cli", "package.json"), "utf8")) as { version: string }
  ).version;
}

const LAUNCHER = `#!/bin/sh
# mlenv portable launcher: runs the bundled CLI with the Node runtime shipped beside it.
here=$(dirname -- "$(readlink -f -- "$0")")
exec "$here/lib/node" --disable-warning=ExperimentalWarning "$here/lib/cli/mlenv.cjs" "$@"
`;

/** Copy one npm package folder (its package.json and the listed entries) from node_modules. */
function copyPackage(from: string, to: string, entries: string[]): void {
  mkdirSync(to, { recursive: true });
  for (const e of ["package.json", "LICENSE", ...entries]) {
    const src = join(from, e);
    if (existsSync(src)) cpSync(src, join(to, e), { recursive: true, dereference: true });
  }
}

/** The folder of package `name` as resolved from `fromDir` (pnpm's real path). */
function packageDir(name: string, fromDir: string): string {
  const require = createRequire(join(fromDir, "noop.js"));
  return dirname(realpathSync(require.resolve(`${name}/package.json`)));
}

function sizeOf(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.size;
  return readdirSync(path).reduce((n, e) => n + sizeOf(join(path, e)), 0);
}

/** Build the tarball into `outDir`; returns its path. */
export async function buildPortable(outDir: string): Promise<{ tarball: string; unpackedBytes: number }> {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `build:portable makes a linux-x64 distribution from this machine's Node and addons; this is ${process.platform}-${process.arch}`,
    );
  }
  const version = portableVersion();
  const name = `mlenv-${version}-linux-x64`;
  const work = mkdtempSync(join(tmpdir(), "mlenv-portable-"));
  try {
    const top = join(work, name);
    const lib = join(top, "lib");
    mkdirSync(join(lib, "cli"), { recursive: true });
    await bundleCli(join(lib, "cli", "mlenv.cjs"), { native: "external" });
    await writeWebUiAssets(join(lib, "cli"));
    // the conda installer's bzip2 (WebAssembly), read from beside the bundle
    const bz2 = packageDir("@foxglove/wasm-bz2", join(root, "packages", "conda-installer"));
    copyFileSync(join(bz2, "wasm", "module.wasm"), join(lib, "cli", "module.wasm"));
    // the run and service helpers, found by the server at <bundle>/../../python
    const python = join(root, "packages", "server", "python");
    mkdirSync(join(top, "python"));
    for (const f of readdirSync(python).filter((f) => f.endsWith(".py")))
      copyFileSync(join(python, f), join(top, "python", f));
    // better-sqlite3: its JS and the compiled addon, not its C sources
    const serverDir = join(root, "packages", "server");
    const sqlite = packageDir("better-sqlite3", serverDir);
    const addon = join(sqlite, "build", "Release", "better_sqlite3.node");
    if (!existsSync(addon))
      throw new Error(`better-sqlite3's addon is not built: ${addon} is missing (pnpm install)`);
    const nm = join(lib, "node_modules");
    copyPackage(sqlite, join(nm, "better-sqlite3"), ["lib"]);
    mkdirSync(join(nm, "better-sqlite3", "build", "Release"), { recursive: true });
    copyFileSync(addon, join(nm, "better-sqlite3", "build", "Release", "better_sqlite3.node"));
    const bindings = packageDir("bindings", sqlite);
    copyPackage(bindings, join(nm, "bindings"), ["bindings.js"]);
    copyPackage(packageDir("file-uri-to-path", bindings), join(nm, "file-uri-to-path"), ["index.js"]);
    copyFileSync(realpathSync(process.execPath), join(lib, "node"));
    chmodSync(join(lib, "node"), 0o755);
    writeFileSync(join(top, "mlenv"), LAUNCHER, { mode: 0o755 });
    copyFileSync(join(root, "LICENSE"), join(top, "LICENSE"));
    const unpackedBytes = sizeOf(top);
    mkdirSync(outDir, { recursive: true });
    const tarball = join(outDir, `${name}.tar.xz`);
    rmSync(tarball, { force: true });
    const r = spawnSync(
      "tar",
      ["--owner=0", "--group=0", "--numeric-owner", "-cJf", tarball, "-C", work, name],
      { encoding: "utf8", env: { ...process.env, XZ_OPT: "-3 -T0" } },
    );
    if (r.status !== 0) throw new Error(`tar exited ${r.status}: ${r.stderr}`);
    return { tarball, unpackedBytes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const i = process.argv.indexOf("--out-dir");
  const out = resolve(i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : join(root, "dist"));
  buildPortable(out).then(
    ({ tarball }) => process.stdout.write(`built ${tarball} (${statSync(tarball).size} bytes)\n`),
    (e: unknown) => {
      process.stderr.write(`build:portable: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
