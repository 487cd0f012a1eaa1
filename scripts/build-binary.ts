/**
 * Build `mlenv` as one executable file (Node's single executable applications + postject from
 * node_modules; nothing is fetched):
 *
 *   pnpm build:binary [--out dist/mlenv]
 *
 * 1. esbuild bundles the CLI from source into one CommonJS script (SEA runs CommonJS only);
 * 2. `node --experimental-sea-config` turns it into a preparation blob;
 * 3. a copy of the running `node` gets the blob injected with postject.
 *
 * better-sqlite3 is a native addon and cannot live inside the binary: it is replaced by a module
 * that fails with a clear message, so `mlenv server start` on SQLite says to use the npm package or
 * the server image instead (docs/server.md). esbuild (used only to bundle the web UI) likewise.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { build, type Plugin } from "esbuild";

const root = resolve(import.meta.dirname, "..");

export const NATIVE_UNSUPPORTED =
  "is not available in the single-file mlenv binary (better-sqlite3 is a native addon and cannot be embedded). Run the server from the npm packages (npx -p @mlenv/cli -p @mlenv/server mlenv server start) or the server image (docs/server.md).";

const ENTRY = `
import { runCli } from "@mlenv/cli";
async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}
function untilStopped() {
  return new Promise((resolve) => {
    const stop = (signal) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(signal);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  readStdin,
  untilStopped,
}).then((code) => { process.exitCode = code; });
`;

/** Modules that cannot be embedded, replaced by stubs that explain themselves when used. */
function unsupportedNative(): Plugin {
  const stub = (what: string) => `
const message = ${JSON.stringify(`SQLite storage ${NATIVE_UNSUPPORTED}`)};
function Unsupported() {
  const e = new Error(message);
  e.code = "E_BINARY_UNSUPPORTED";
  throw e;
}
module.exports = Unsupported;
module.exports.default = Unsupported;
module.exports.build = () => Unsupported();
module.exports.__mlenvUnsupported = ${JSON.stringify(what)};
`;
  return {
    name: "mlenv-unsupported-native",
    setup(b) {
      b.onResolve({ filter: /^(better-sqlite3|esbuild|pg-native)$/ }, (args) => ({
        path: args.path,
        namespace: "mlenv-unsupported",
      }));
      b.onLoad({ filter: /.*/, namespace: "mlenv-unsupported" }, (args) => ({
        contents: stub(args.path),
        loader: "js",
      }));
    },
  };
}

/**
 * Bundle the CLI into one CommonJS file. `native: "stub"` (the single-file binary) replaces the
 * native addons with modules that explain themselves; `"external"` (the portable tarball) leaves
 * `require("better-sqlite3")` to find the addon in a node_modules folder shipped beside the bundle.
 */
export async function bundleCli(
  outFile: string,
  options: { native?: "stub" | "external" } = {},
): Promise<void> {
  const external = options.native === "external";
  await build({
    stdin: {
      contents: ENTRY,
      resolveDir: join(root, "packages", "cli"),
      sourcefile: "mlenv-binary.ts",
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    conditions: ["@mlenv/source"],
    outfile: outFile,
    ...(external
      ? { external: ["better-sqlite3", "esbuild", "pg-native"] }
      : { plugins: [unsupportedNative()] }),
    // @foxglove/wasm-bz2 names its .wasm in a browser-only branch; in Node it reads the file beside
    // itself, which a single-file binary does not have (its .tar.bz2 extraction says so when used).
    loader: { ".wasm": "empty" },
    // import.meta.url has no CommonJS equivalent: point it at the executable.
    define: { "import.meta.url": "__mlenvImportMetaUrl", "import.meta.dirname": "__dirname" },
    banner: { js: 'const __mlenvImportMetaUrl = require("node:url").pathToFileURL(__filename).href;' },
    logLevel: "error",
    legalComments: "none",
  });
}

function run(cmd: string, args: string[], cwd: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8" });
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
}

/** Build the single executable at `outFile`. */
export async function buildBinary(outFile: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), "mlenv-binary-"));
  try {
    const bundle = join(work, "mlenv.cjs");
    await bundleCli(bundle);
    const blob = join(work, "sea-prep.blob");
    writeFileSync(
      join(work, "sea-config.json"),
      JSON.stringify({
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: false,
      }),
    );
    run(process.execPath, ["--experimental-sea-config", "sea-config.json"], work);
    mkdirSync(dirname(outFile), { recursive: true });
    rmSync(outFile, { force: true });
    copyFileSync(process.execPath, outFile);
    chmodSync(outFile, 0o755);
    run(
      join(root, "node_modules", ".bin", "postject"),
      [outFile, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
      work,
    );
    return outFile;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const i = process.argv.indexOf("--out");
  const out = resolve(i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : join(root, "dist", "mlenv"));
  buildBinary(out).then(
    (file) => process.stdout.write(`built ${file}\n`),
    (e: unknown) => {
      process.stderr.write(`build:binary: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
