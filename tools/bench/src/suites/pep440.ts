/**
 * PEP 440: parse + sort 200,000 version strings with @mlenv/core (precomputed sort keys) vs
 * @renovatebot/pep440's compare-based sort (which re-parses both strings on every comparison;
 * target: ours at least 20x faster, ratio <= 0.05), and vs Python's `packaging`, the reference
 * implementation (`sorted(corpus, key=Version)`: each string parsed once, timed inside Python).
 * The corpus is deterministic and shaped like PyPI release histories: mostly X.Y.Z, with
 * pre/post/dev releases, a few epochs and local labels.
 */
import { createRequire } from "node:module";
import { sortVersions, Version } from "@mlenv/core";
import { type BenchSuite, median, timeRuns } from "../harness";
import { packagingPeer } from "../packagingPeer";
import { prng } from "../random";

const require = createRequire(import.meta.url);
const pep440 = require("@renovatebot/pep440") as { compare(a: string, b: string): number };

/** `n` realistic PEP 440 version strings (deterministic for a seed). */
export function pep440Corpus(n: number, seed = 440): string[] {
  const rnd = prng(seed);
  const pick = (k: number) => Math.floor(rnd() * k);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = rnd();
    let v: string;
    if (r < 0.08) v = `${2000 + pick(26)}.${1 + pick(12)}${rnd() < 0.5 ? `.${1 + pick(28)}` : ""}`;
    else {
      const parts = [pick(5), pick(30), pick(20)];
      if (rnd() < 0.15) parts.push(pick(10));
      v = (rnd() < 0.3 ? parts.slice(0, 2) : parts).join(".");
    }
    const s = rnd();
    if (s < 0.06) v += `a${pick(5)}`;
    else if (s < 0.1) v += `b${pick(4)}`;
    else if (s < 0.16) v += `rc${1 + pick(4)}`;
    if (rnd() < 0.04) v += `.post${pick(4)}`;
    if (rnd() < 0.05) v += `.dev${pick(2000)}`;
    if (rnd() < 0.005) v = `1!${v}`;
    if (rnd() < 0.03) v += ["+cu118", "+cpu", "+rocm5.6", "+ubuntu.1"][pick(4)];
    out.push(v);
  }
  return out;
}

export const suite: BenchSuite = {
  name: "pep440",
  async run(ctx) {
    const corpus = pep440Corpus(200_000);
    // Same order and every string valid for both libraries.
    const ours = sortVersions(corpus);
    const theirs = [...corpus].sort(pep440.compare);
    let mismatches = 0;
    for (let i = 0; i < ours.length; i++)
      if (Version.parse(ours[i] as string).compare(Version.parse(theirs[i] as string)) !== 0) mismatches++;
    const oursMs = median(await timeRuns(() => sortVersions(corpus), { runs: 5, warmup: 1 }));
    const theirsMs = median(await timeRuns(() => [...corpus].sort(pep440.compare), { runs: 3, warmup: 1 }));
    ctx.compare({
      bench: "pep440 parse+sort 200k versions",
      ours: oursMs,
      peer: "@renovatebot/pep440 compare sort",
      theirs: theirsMs,
      unit: "ms",
      extra: {
        speedup: Number((theirsMs / oursMs).toFixed(1)),
        target_speedup: 20,
        order_mismatches: mismatches,
      },
    });
    const py = packagingPeer();
    if ("missing" in py) {
      ctx.log(`pep440 vs packaging skipped: ${py.missing}`);
      return;
    }
    const res = py.run<{ ms: number[]; sorted: string[] }>(
      `
ms = []
for i in range(4):
    t = time.perf_counter()
    out = sorted(data, key=Version)
    ms.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ms": ms[1:], "sorted": out}))
`,
      corpus,
    );
    let pyMismatches = 0;
    for (let i = 0; i < ours.length; i++)
      if (Version.parse(ours[i] as string).compare(Version.parse(res.sorted[i] as string)) !== 0)
        pyMismatches++;
    const pyMs = median(res.ms);
    ctx.compare({
      bench: "pep440 parse+sort 200k versions vs packaging",
      ours: oursMs,
      peer: `python ${py.label} sorted(key=Version)`,
      theirs: pyMs,
      unit: "ms",
      extra: { speedup: Number((pyMs / oursMs).toFixed(1)), order_mismatches: pyMismatches },
    });
  },
};
