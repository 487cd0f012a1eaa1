/**
 * conda solving end to end: fetch repodata of conda's tests/data/index4.json from a loopback
 * HTTP channel (linux-64 + noarch), parse, solve the problems conda's test suite asserts, vs
 * @conda-org/rattler's simpleSolve (resolvo in WASM) doing the same in this run. Also checks
 * that each solution satisfies every constraint and is no older than rattler's, and reports
 * the peak RSS of a child process doing one solve (this file with MLENV_BENCH_CONDA_CHILD=1).
 */
import { existsSync, readFileSync } from "node:fs";
import { simpleSolve } from "@conda-org/rattler";
import { defaultCondaSemantics, httpCondaChannel, solveConda, verifyCondaSolution } from "@mlenv/resolver";
import { channelFilesFromFlatIndex, serveCondaChannel } from "@mlenv/test-utils";
import { type BenchSuite, isBenchChild, median, runBenchChild } from "../harness";

const DATA = process.env.MLENV_CONFORMANCE_DIR ?? "/work/shared/conformance";
/** Runs per problem and solver before measuring (JIT/WASM tier-up), and measured runs. */
const WARMUP = 10;
const MEASURED = 21;
const INDEX4 = `${DATA}/repodata/conda__tests__data__index4.json`;

interface Problem {
  name: string;
  specs: string[];
}

function problems(): Problem[] {
  const idx = JSON.parse(readFileSync(`${DATA}/repodata/INDEX.json`, "utf8")) as {
    problems: { conda_channel4_fresh_installs: { cases: Problem[] } };
  };
  return idx.problems.conda_channel4_fresh_installs.cases.map((c) => ({ name: c.name, specs: c.specs }));
}

async function ours(url: string, specs: string[]) {
  return solveConda({
    channels: [httpCondaChannel(url)],
    specs,
    subdir: "linux-64",
    semantics: defaultCondaSemantics,
  });
}

async function rattler(url: string, specs: string[]) {
  return simpleSolve(specs, [url], ["linux-64", "noarch"], []);
}

/** Child mode: one solve in a fresh process, then print peak RSS in KiB and the solve's ms. */
async function child(): Promise<void> {
  const [who, url, specsJson] = process.argv.slice(2) as [string, string, string];
  const specs = JSON.parse(specsJson) as string[];
  const t0 = performance.now();
  if (who === "ours") await ours(url, specs);
  else if (who === "rattler") await rattler(url, specs);
  // "baseline": same process and imports, no solve
  const ms = performance.now() - t0;
  process.stdout.write(`${process.resourceUsage().maxRSS} ${ms}\n`);
}

/** One solve in a fresh process: its peak RSS (MiB) and wall time (ms, cold: nothing compiled yet). */
async function coldSolve(who: string, url: string, specs: string[]): Promise<{ rss: number; ms: number }> {
  const out = await runBenchChild(import.meta.url, [who, url, JSON.stringify(specs)], {
    MLENV_BENCH_CONDA_CHILD: "1",
  });
  const [rss, ms] = out.trim().split(" ").map(Number);
  return { rss: (rss as number) / 1024, ms: ms as number };
}

export const suite: BenchSuite = {
  name: "conda-solve",
  async run(ctx) {
    if (!existsSync(INDEX4)) {
      ctx.log(`conda-solve skipped: ${INDEX4} is missing (set MLENV_CONFORMANCE_DIR)`);
      return;
    }
    const flat = JSON.parse(readFileSync(INDEX4, "utf8")) as Record<string, Record<string, unknown>>;
    const server = await serveCondaChannel({ files: channelFilesFromFlatIndex(flat) });
    try {
      const ratios: number[] = [];
      const coldRatios: number[] = [];
      for (const p of problems()) {
        const mine = await ours(server.url, p.specs);
        const theirs = await rattler(server.url, p.specs);
        const check = verifyCondaSolution({
          records: mine.records,
          specs: p.specs,
          subdir: "linux-64",
          semantics: defaultCondaSemantics,
          compareTo: theirs.map((r) => ({ name: r.packageName as string, version: String(r.version) })),
        });
        // Steady state: both run WARMUP times first (V8 tiers up our JS and rattler's WASM alike),
        // then MEASURED alternating runs, so machine load and GC pauses hit both alike; CPU time
        // is reported too, and the cold figures below come from fresh processes.
        const tOurs: number[] = [];
        const tTheirs: number[] = [];
        const cOurs: number[] = [];
        const cTheirs: number[] = [];
        for (let i = 0; i < WARMUP; i++) {
          await ours(server.url, p.specs);
          await rattler(server.url, p.specs);
        }
        for (let i = 0; i < MEASURED; i++) {
          for (const [f, wall, cpu] of [
            [() => ours(server.url, p.specs), tOurs, cOurs],
            [() => rattler(server.url, p.specs), tTheirs, cTheirs],
          ] as const) {
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            await f();
            wall.push(performance.now() - t0);
            const c = process.cpuUsage(c0);
            cpu.push((c.user + c.system) / 1000);
          }
        }
        const coldOurs = await coldSolve("ours", server.url, p.specs);
        const coldTheirs = await coldSolve("rattler", server.url, p.specs);
        const rssBase = (await coldSolve("baseline", server.url, p.specs)).rss;
        const mo = median(tOurs);
        const mt = median(tTheirs);
        ratios.push(mo / mt);
        coldRatios.push(coldOurs.ms / coldTheirs.ms);
        ctx.compare({
          bench: `conda-solve ${p.name}`,
          ours: mo,
          peer: "rattler simpleSolve",
          theirs: mt,
          unit: "ms",
          extra: {
            packages: mine.records.length,
            valid: check.problems.length === 0 ? "yes" : check.problems.slice(0, 3).join("; "),
            olderThanRattler: check.older.join(",") || "none",
            newerThanRattler: check.newer.join(",") || "none",
            cpuMsOurs: Number(median(cOurs).toFixed(1)),
            cpuMsRattler: Number(median(cTheirs).toFixed(1)),
            coldMsOurs: Number(coldOurs.ms.toFixed(1)),
            coldMsRattler: Number(coldTheirs.ms.toFixed(1)),
            peakRssOursMiB: Math.round(coldOurs.rss),
            peakRssRattlerMiB: Math.round(coldTheirs.rss),
            idleProcessRssMiB: Math.round(rssBase),
            decisions: mine.stats.decisions,
            conflicts: mine.stats.conflicts,
          },
        });
      }
      ctx.report({
        bench: "conda-solve median ratio",
        value: Number(median(ratios).toFixed(3)),
        unit: "x rattler",
        target: 0.5,
      });
      ctx.report({
        bench: "conda-solve cold median ratio",
        value: Number(median(coldRatios).toFixed(3)),
        unit: "x rattler (one solve in a fresh process)",
      });
    } finally {
      await server.close();
    }
  },
};

if (isBenchChild(import.meta.url, "MLENV_BENCH_CONDA_CHILD")) {
  await child();
}
