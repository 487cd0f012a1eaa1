/**
 * conda versions: parse + sort 200,000 version strings with @mlenv/core's CondaVersion (string
 * sort keys) vs @conda-org/rattler's Version (WASM; parse, then sort with compare). Target: faster.
 */
import { createRequire } from "node:module";
import { CondaVersion, sortCondaVersions } from "@mlenv/core";
import { type BenchSuite, median, timeRuns } from "../harness";
import { prng } from "../random";

const require = createRequire(import.meta.url);
interface RattlerVersion {
  compare(other: RattlerVersion): number;
  free(): void;
}
const rattler = require("@conda-org/rattler") as { Version: new (v: string) => RattlerVersion };

/** `n` conda-forge-shaped version strings (deterministic). */
export function condaCorpus(n: number, seed = 1729): string[] {
  const rnd = prng(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let v = [pick(4), pick(30), pick(25)].slice(0, rnd() < 0.3 ? 2 : 3).join(".");
    const s = rnd();
    if (s < 0.05) v += `rc${1 + pick(3)}`;
    else if (s < 0.08) v += `.dev${pick(40)}`;
    else if (s < 0.11) v += `.post${pick(5)}`;
    else if (s < 0.14) v += ["a", "b", "c", "k", "w"][pick(5)] as string;
    else if (s < 0.16) v += `_${pick(4)}`;
    if (rnd() < 0.01) v = `1!${v}`;
    if (rnd() < 0.02) v += `+${pick(9)}`;
    out.push(v);
  }
  return out;
}

function rattlerSort(corpus: string[]): string[] {
  const parsed = corpus.map((s) => ({ v: new rattler.Version(s), s }));
  parsed.sort((a, b) => a.v.compare(b.v));
  for (const p of parsed) p.v.free();
  return parsed.map((p) => p.s);
}

export const suite: BenchSuite = {
  name: "conda-version",
  async run(ctx) {
    const corpus = condaCorpus(200_000);
    const ours = sortCondaVersions(corpus);
    const theirs = rattlerSort(corpus);
    let mismatches = 0;
    for (let i = 0; i < ours.length; i++)
      if (!CondaVersion.parse(ours[i] as string).equals(CondaVersion.parse(theirs[i] as string)))
        mismatches++;
    const oursMs = median(await timeRuns(() => sortCondaVersions(corpus), { runs: 5, warmup: 1 }));
    const theirsMs = median(await timeRuns(() => rattlerSort(corpus), { runs: 3, warmup: 1 }));
    ctx.compare({
      bench: "conda parse+sort 200k versions",
      ours: oursMs,
      peer: "@conda-org/rattler Version (WASM)",
      theirs: theirsMs,
      unit: "ms",
      extra: { speedup: Number((theirsMs / oursMs).toFixed(2)), order_mismatches: mismatches },
    });
  },
};
