/**
 * conda solving at conda-forge scale: a generated conda-forge-shaped channel (linux-64 +
 * noarch, ~30,000 names, ~600,000 records, ~256 MB of repodata.json; see condaForgeChannel.ts)
 * served from loopback, and a data-science environment solved against it by us and by
 * @conda-org/rattler's simpleSolve, each in a fresh process (this file in child mode) so that
 * peak RSS and cold start are measured:
 *
 * - cold: a fresh process, nothing compiled, our on-disk repodata cache empty (the body is
 *   fetched, scanned, cached and indexed); rattler likewise fetches and parses.
 * - warm: a fresh process whose on-disk cache was filled by a previous lock (ours: the server
 *   answers 304 and the index says where each name's records are, so only the records of the
 *   names the solve reaches are read). simpleSolve keeps no on-disk cache, so rattler's warm
 *   figure is its second solve in one process (WASM compiled, repodata fetched again).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { simpleSolve } from "@conda-org/rattler";
import { defaultCondaSemantics, httpCondaChannel, solveConda } from "@mlenv/resolver";
import { serveCondaChannel } from "@mlenv/test-utils";
import { condaForgeChannel } from "../condaForgeChannel";
import { type BenchSuite, isBenchChild, machineLoad, median, runBenchChild } from "../harness";

const FORGE = { seed: 23, names: 30_000, density: 1.45 };
const SPECS = ["python=3.11", "numpy", "pandas", "scikit-learn", "scipy", "pip"];
const REPS = 3;

interface ChildResult {
  rss: number;
  ms: number;
  cpu: number;
  solution: string[];
}

/** Child mode: solve (twice for "rattler-warm", reporting the second), print one JSON line. */
async function child(): Promise<void> {
  const [who, url, cacheDir] = process.argv.slice(2) as [string, string, string];
  let solution: string[] = [];
  const once = async () => {
    if (who === "ours") {
      const out = await solveConda({
        channels: [httpCondaChannel(url, { cacheDir })],
        specs: SPECS,
        subdir: "linux-64",
        semantics: defaultCondaSemantics,
      });
      solution = out.records.map((r) => `${r.name} ${r.version} ${r.build}`);
    } else if (who.startsWith("rattler")) {
      const out = await simpleSolve(SPECS, [url], ["linux-64", "noarch"], []);
      solution = out.map((r) => `${r.packageName} ${r.version} ${r.build}`);
    }
  };
  if (who === "rattler-warm") await once();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await once();
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const result: ChildResult = {
    rss: process.resourceUsage().maxRSS / 1024,
    ms,
    cpu: (c.user + c.system) / 1000,
    solution: solution.sort(),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** One child run, tried twice: under heavy load a WASM child is occasionally killed. */
async function runChild(who: string, url: string, cacheDir: string): Promise<ChildResult> {
  try {
    return await runChildOnce(who, url, cacheDir);
  } catch {
    return runChildOnce(who, url, cacheDir);
  }
}

async function runChildOnce(who: string, url: string, cacheDir: string): Promise<ChildResult> {
  const out = await runBenchChild(import.meta.url, [who, url, cacheDir], { MLENV_BENCH_FORGE_CHILD: "1" });
  return JSON.parse(out.trim()) as ChildResult;
}

export const suite: BenchSuite = {
  name: "conda-forge-solve",
  async run(ctx) {
    const ch = condaForgeChannel(FORGE);
    ctx.log(
      `conda-forge-shaped channel: ${ch.names} names, ${ch.records} records, ${(ch.bytes / 2 ** 20).toFixed(0)} MiB of repodata.json${ch.generatedIn ? ` (generated in ${ch.generatedIn} s)` : " (cached)"}`,
    );
    const server = await serveCondaChannel({ dir: ch.dir });
    const caches: string[] = [];
    try {
      const runs: Record<"coldOurs" | "warmOurs" | "coldRattler" | "warmRattler" | "idle", ChildResult[]> = {
        coldOurs: [],
        warmOurs: [],
        coldRattler: [],
        warmRattler: [],
        idle: [],
      };
      const loads: number[] = [];
      for (let i = 0; i < REPS; i++) {
        const cacheDir = mkdtempSync(join(tmpdir(), "mlenv-bench-forge-"));
        caches.push(cacheDir);
        loads.push(machineLoad().loadavg_1m);
        runs.coldOurs.push(await runChild("ours", server.url, cacheDir));
        runs.coldRattler.push(await runChild("rattler", server.url, cacheDir));
        runs.warmOurs.push(await runChild("ours", server.url, cacheDir));
        runs.warmRattler.push(await runChild("rattler-warm", server.url, cacheDir));
        if (i === 0) runs.idle.push(await runChild("idle", server.url, cacheDir));
        loads.push(machineLoad().loadavg_1m);
      }
      const ours = runs.coldOurs[0]?.solution ?? [];
      const theirs = runs.coldRattler[0]?.solution ?? [];
      const theirSet = new Set(theirs);
      const differ = ours.filter((r) => !theirSet.has(r));
      const { cores } = machineLoad();
      const load = Math.max(...loads);
      const noisy = load > cores ? `yes (load up to ${load} on ${cores} cores)` : "no";
      if (load > cores) ctx.log(`conda-forge-solve: noisy run, load average up to ${load} on ${cores} cores`);
      const common = {
        records: ch.records,
        names: ch.names,
        repodataMiB: Math.round(ch.bytes / 2 ** 20),
        specs: SPECS.join(" "),
        packages: ours.length,
        sameSolutionAsRattler: differ.length === 0 ? "yes" : `no: ${differ.slice(0, 4).join(", ")}`,
        idleProcessRssMiB: Math.round(runs.idle[0]?.rss ?? 0),
        loadavg_1m: load,
        cores,
        noisy,
      };
      const line = (name: string, a: ChildResult[], b: ChildResult[], warm: string) => {
        const mo = median(a.map((r) => r.ms));
        const mt = median(b.map((r) => r.ms));
        ctx.compare({
          bench: `conda-forge-solve ${name}`,
          ours: Number(mo.toFixed(1)),
          peer: "rattler simpleSolve",
          theirs: Number(mt.toFixed(1)),
          unit: "ms",
          extra: {
            warm,
            cpuMsOurs: Math.round(median(a.map((r) => r.cpu))),
            cpuMsRattler: Math.round(median(b.map((r) => r.cpu))),
            peakRssOursMiB: Math.round(Math.max(...a.map((r) => r.rss))),
            peakRssRattlerMiB: Math.round(Math.max(...b.map((r) => r.rss))),
            runs: a.length,
            ...common,
          },
        });
        return mo / mt;
      };
      const cold = line(
        "cold",
        runs.coldOurs,
        runs.coldRattler,
        "nothing: fresh processes, our repodata cache empty (fetched, scanned, cached and indexed)",
      );
      const warm = line(
        "warm",
        runs.warmOurs,
        runs.warmRattler,
        "ours: fresh process, on-disk cache and index filled (304, only reached names read); rattler: no on-disk cache, its second solve in one process",
      );
      ctx.report({
        bench: "conda-forge-solve cold ratio",
        value: Number(cold.toFixed(3)),
        unit: "x rattler",
        target: 0.5,
      });
      ctx.report({
        bench: "conda-forge-solve warm ratio",
        value: Number(warm.toFixed(3)),
        unit: "x rattler",
        target: 0.5,
      });
    } finally {
      await server.close();
      for (const c of caches) rmSync(c, { recursive: true, force: true });
    }
  },
};

if (isBenchChild(import.meta.url, "MLENV_BENCH_FORGE_CHILD")) {
  await child();
}
