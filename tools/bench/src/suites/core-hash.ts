/**
 * @mlenv/core hashing throughput and browser bundle size.
 * - definitionHash + imageKey over real-world definitions (the conformance real-world files when
 *   present, plus generated ones): definitions/s, compared with a baseline that hashes
 *   JSON.stringify output with node:crypto (no normalisation, no canonical form: the floor).
 * - hashJson of a 1 MiB string (canonical form is nearly free for a string, so this is the SHA-256
 *   of @noble/hashes, pure JS and browser-identical) vs node:crypto over the same bytes.
 * - Browser bundle of core (esbuild, minified, gzip -9): validation + hashing (target <= 60 KB),
 *   with folder loading (adds the YAML parser), and everything.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import {
  canonicalJson,
  definitionHash,
  type EnvironmentDefinition,
  hashJson,
  imageKey,
  loadDefinitionFile,
  parseDefinition,
} from "@mlenv/core";
import { build } from "esbuild";
import { type BenchContext, type BenchSuite, median, timeRuns } from "../harness";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../../..");
const realWorld = join(repo, "../shared/conformance/real-world");

function definitions(): EnvironmentDefinition[] {
  const out: EnvironmentDefinition[] = [];
  if (existsSync(realWorld)) {
    for (const f of readdirSync(realWorld).filter((n) => /\.(ya?ml|txt)$/.test(n))) {
      out.push(loadDefinitionFile(f, readFileSync(join(realWorld, f), "utf8")).definition);
    }
  }
  for (let i = 0; out.length < 64; i++) {
    out.push(
      parseDefinition({
        name: `gen-${i}`,
        environmentVariables: { SEED: String(i) },
        python: {
          condaDependencies: {
            channels: ["conda-forge", "defaults"],
            dependencies: [
              "python=3.11",
              ...Array.from({ length: 30 }, (_, j) => `pkg${(i * 7 + j) % 97}>=${j}.${i % 10}`),
              { pip: Array.from({ length: 20 }, (_, j) => `Py_Pkg.${(i + j) % 53} == ${j}.0.${i}`) },
            ],
          },
        },
      }),
    );
  }
  return out;
}

async function throughput(ctx: BenchContext): Promise<void> {
  const defs = definitions();
  const bytes = defs.reduce((n, d) => n + canonicalJson(d).length, 0);
  const rounds = 20;
  const ours = await timeRuns(
    () => {
      for (let r = 0; r < rounds; r++)
        for (const d of defs) {
          definitionHash(d);
          imageKey(d);
        }
    },
    { runs: 7, warmup: 2 },
  );
  const floor = await timeRuns(
    () => {
      for (let r = 0; r < rounds; r++)
        for (const d of defs) {
          createHash("sha256").update(JSON.stringify(d)).digest("hex");
          createHash("sha256").update(JSON.stringify(d.python)).digest("hex");
        }
    },
    { runs: 7, warmup: 2 },
  );
  const n = defs.length * rounds;
  const oursRate = n / (median(ours) / 1000);
  const floorRate = n / (median(floor) / 1000);
  ctx.compare({
    bench: "core.hash.definitions_per_s",
    ours: Math.round(oursRate),
    peer: "JSON.stringify+node:crypto (no normalisation)",
    theirs: Math.round(floorRate),
    unit: "defs/s",
    extra: {
      definitions: defs.length,
      avgCanonicalBytes: Math.round(bytes / defs.length),
      usPerDefinitionBothHashes: Number(((median(ours) * 1000) / n).toFixed(1)),
    },
  });

  const text = "abcdefghijklmnopqrstuvwxyz012345".repeat(32 * 1024);
  const canonical = canonicalJson(text);
  const reps = 8;
  const noble = await timeRuns(() => {
    for (let i = 0; i < reps; i++) hashJson(text);
  });
  const node = await timeRuns(() => {
    for (let i = 0; i < reps; i++) createHash("sha256").update(canonical).digest();
  });
  const mb = (canonical.length * reps) / 1024 / 1024;
  ctx.compare({
    bench: "core.hashJson.MB_per_s",
    ours: Number((mb / (median(noble) / 1000)).toFixed(1)),
    peer: "node:crypto (OpenSSL)",
    theirs: Number((mb / (median(node) / 1000)).toFixed(1)),
    unit: "MB/s",
  });
}

async function gzippedBundle(contents: string): Promise<{ raw: number; gz: number }> {
  const r = await build({
    stdin: { contents, resolveDir: here, loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    conditions: ["@mlenv/source", "browser", "import", "default"],
    logLevel: "error",
  });
  const bytes = r.outputFiles[0]!.contents;
  return { raw: bytes.length, gz: gzipSync(bytes, { level: 9 }).length };
}

async function bundleSize(ctx: BenchContext): Promise<void> {
  const kb = (n: number) => Number((n / 1024).toFixed(1));
  const core = await gzippedBundle(
    'export { parseDefinition, validateDefinition, definitionHash, imageKey, canonicalJson } from "@mlenv/core";',
  );
  const folder = await gzippedBundle(
    'export { parseDefinition, validateDefinition, definitionHash, imageKey, loadDefinitionFolder, saveDefinitionFolder, loadDefinitionFile } from "@mlenv/core";',
  );
  const all = await gzippedBundle('export * from "@mlenv/core";');
  ctx.report({
    bench: "core.bundle.validate_hash_gzip",
    value: kb(core.gz),
    unit: "KB",
    target: 60,
    extra: {
      minifiedKB: kb(core.raw),
      withFolderFormatsGzipKB: kb(folder.gz),
      everythingGzipKB: kb(all.gz),
    },
  });
  if (core.gz > 60 * 1024)
    ctx.log(`WARNING: validation+hashing bundle ${kb(core.gz)} KB exceeds the 60 KB target`);
}

export const suite: BenchSuite = {
  name: "core-hash",
  async run(ctx) {
    await throughput(ctx);
    await bundleSize(ctx);
  },
};
