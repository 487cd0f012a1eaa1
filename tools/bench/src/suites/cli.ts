/**
 * CLI start-up, from the BUILT CLI (packages/cli/bin/mlenv.js on dist/, what users install):
 * - `mlenv --version` vs `node -e 0` (target <= 3x): building the command tree must not load
 *   any command's modules.
 * - `mlenv env hash -d <definition>` vs `node -e 0` (target <= 5x): loads only what hashing a
 *   definition needs (@mlenv/core, the definition loader), not the resolver, the server or the
 *   SDK's HTTP client.
 * The three commands run interleaved in the same loop (one run of each per round), so machine
 * load hits them alike; wall time of the whole process, median of the rounds.
 * dist/ is built first (turbo, cached) when it is missing or older than the sources.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type BenchContext, type BenchSuite, median, percentile } from "../harness";

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../../..");
const bin = join(repo, "packages", "cli", "bin", "mlenv.js");
const ROUNDS = 21;
const WARMUP = 3;

/** Newest modification time (ms) of the files under `dir`. */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Build the CLI and the packages it loads when dist/ is missing or older than their sources. */
export function ensureBuilt(ctx: BenchContext, pkgs: string[] = ["cli", "core", "sdk"]): void {
  const stale = pkgs.some((p) => {
    const dist = join(repo, "packages", p, "dist");
    return !existsSync(dist) || newest(dist) < newest(join(repo, "packages", p, "src"));
  });
  if (!stale) return;
  ctx.log("building @mlenv/cli and its dependencies (dist/ missing or older than src/)");
  const r = spawnSync(
    join(repo, "node_modules", ".bin", "turbo"),
    ["run", "build", "--filter=@mlenv/cli..."],
    {
      cwd: repo,
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
  if (r.status !== 0) throw new Error(`building the CLI failed (turbo exited ${r.status})`);
}

/** Wall time (ms) of one process run; throws when it fails or prints nothing. */
function timeProcess(args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr.slice(0, 500)}`);
  return ms;
}

export const suite: BenchSuite = {
  name: "cli",
  async run(ctx) {
    ensureBuilt(ctx);
    const dir = mkdtempSync(join(tmpdir(), "mlenv-bench-cli-"));
    try {
      writeFileSync(
        join(dir, "environment.yml"),
        [
          "name: train",
          "channels:",
          "  - conda-forge",
          "dependencies:",
          "  - python=3.11",
          "  - numpy=1.26",
          "  - pandas>=2.1",
          "  - pip",
          "  - pip:",
          "    - scikit-learn==1.4.2",
          "    - torch==2.3.0",
          "",
        ].join("\n"),
      );
      const runs = {
        node: [] as number[],
        version: [] as number[],
        hash: [] as number[],
      };
      const commands = {
        node: ["-e", "0"],
        version: [bin, "--version"],
        hash: [bin, "env", "hash", "-d", "environment.yml"],
      };
      for (let round = 0; round < WARMUP + ROUNDS; round++) {
        for (const k of ["node", "version", "hash"] as const) {
          const ms = timeProcess(commands[k], dir);
          if (round >= WARMUP) runs[k].push(ms);
        }
      }
      const node = median(runs.node);
      for (const [k, bench, target] of [
        ["version", "cli start-up: mlenv --version", 3],
        ["hash", "cli start-up: mlenv env hash", 5],
      ] as const) {
        ctx.compare({
          bench,
          ours: Number(median(runs[k]).toFixed(1)),
          peer: "node -e 0",
          theirs: Number(node.toFixed(1)),
          unit: "ms",
          extra: {
            target,
            p90: Number(percentile(runs[k], 90).toFixed(1)),
            peerP90: Number(percentile(runs.node, 90).toFixed(1)),
            rounds: ROUNDS,
          },
        });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
