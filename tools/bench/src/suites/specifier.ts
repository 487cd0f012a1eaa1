/**
 * SpecifierSet.contains throughput (what a resolver does per candidate): realistic specifier
 * sets against a deterministic PEP 440 corpus, measured like for like:
 * - both parsing on every call: ours `new SpecifierSet(s).contains(new Version(v))` vs
 *   @renovatebot/pep440's `satisfies(v, s)` (its only API: it parses both strings each time);
 * - both pre-parsed: ours `set.contains(version)` vs Python's `packaging` (the reference
 *   implementation) `spec_set.contains(version)` over pre-built objects, timed inside Python.
 * Answers are checked against `packaging` on all 12,000 pairs; renovate's `satisfies` leaves
 * out pre-releases that `packaging` (and ours) match, which is where it disagrees.
 */
import { createRequire } from "node:module";
import { SpecifierSet, Version } from "@mlenv/core";
import { type BenchSuite, median, timeRuns } from "../harness";
import { packagingPeer } from "../packagingPeer";
import { pep440Corpus } from "./pep440";

const require = createRequire(import.meta.url);
const pep440 = require("@renovatebot/pep440") as { satisfies(v: string, spec: string): boolean };

const SPECS = [">=1.20,<2", "~=2.1", "==3.*", ">=0.4,!=0.6.*,<5", "<1.0.0a1", ">2.5.post1"];

export const suite: BenchSuite = {
  name: "specifier",
  async run(ctx) {
    const corpus = pep440Corpus(20_000, 7);
    const versions = corpus.map((s) => Version.parse(s));
    const sets = SPECS.map((s) => new SpecifierSet(s));
    const n = corpus.length * SPECS.length;
    let agree = 0;
    for (const s of SPECS) {
      const set = new SpecifierSet(s);
      for (let i = 0; i < 2000; i++)
        if (
          set.contains(corpus[i] as string, { prereleases: true }) ===
          pep440.satisfies(corpus[i] as string, s)
        )
          agree++;
    }
    const py = packagingPeer();
    const oracle =
      "missing" in py
        ? null
        : py.run<{ answers: boolean[][]; ns: number[] }>(
            `
answers = [[SpecifierSet(s).contains(Version(v)) for v in data["corpus"][:2000]] for s in data["specs"]]
sets = [SpecifierSet(s) for s in data["specs"]]
versions = [Version(v) for v in data["corpus"]]
ns = []
for i in range(4):
    t = time.perf_counter()
    for ss in sets:
        for v in versions:
            ss.contains(v)
    ns.append((time.perf_counter() - t) * 1e9 / (len(sets) * len(versions)))
print(json.dumps({"answers": answers, "ns": ns[1:]}))
`,
            { corpus, specs: SPECS },
          );
    let oursVsPackaging = 0;
    let renovateVsPackaging = 0;
    if (oracle) {
      SPECS.forEach((s, i) => {
        const set = new SpecifierSet(s);
        for (let j = 0; j < 2000; j++) {
          const want = oracle.answers[i]?.[j];
          if (set.contains(corpus[j] as string) !== want) oursVsPackaging++;
          if (pep440.satisfies(corpus[j] as string, s) !== want) renovateVsPackaging++;
        }
      });
    } else ctx.log(`specifier vs packaging skipped: ${(py as { missing: string }).missing}`);
    let sink = 0;
    const oursObj = median(
      await timeRuns(
        () => {
          for (const set of sets) for (const v of versions) if (set.contains(v)) sink++;
        },
        { runs: 5, warmup: 2 },
      ),
    );
    const oursStr = median(
      await timeRuns(
        () => {
          for (const set of sets) for (const v of corpus) if (set.contains(v)) sink++;
        },
        { runs: 5, warmup: 2 },
      ),
    );
    // like renovate: both strings parsed on every call (no cache)
    const oursParsing = median(
      await timeRuns(
        () => {
          for (const s of SPECS)
            for (const v of corpus) if (new SpecifierSet(s.split(",")).contains(Version.parse(v))) sink++;
        },
        { runs: 3, warmup: 1 },
      ),
    );
    const theirs = median(
      await timeRuns(
        () => {
          for (const s of SPECS) for (const v of corpus) if (pep440.satisfies(v, s)) sink++;
        },
        { runs: 3, warmup: 1 },
      ),
    );
    const perItem = (ms: number) => (ms * 1e6) / n;
    ctx.compare({
      bench: "SpecifierSet.contains parsing per call",
      ours: perItem(oursParsing),
      peer: "@renovatebot/pep440 satisfies",
      theirs: perItem(theirs),
      unit: "ns/item",
      extra: {
        parsed: "both sides parse the specifier and the version on every call",
        renovate_disagrees_with_packaging_of_12000: oracle ? renovateVsPackaging : "packaging missing",
        renovate_agrees_with_ours_prereleases_true_of_12000: agree,
        sink: sink % 7,
      },
    });
    if (oracle) {
      ctx.compare({
        bench: "SpecifierSet.contains(Version) pre-parsed",
        ours: perItem(oursObj),
        peer: `python ${(py as { label: string }).label} SpecifierSet.contains(Version)`,
        theirs: median(oracle.ns),
        unit: "ns/item",
        extra: {
          parsed: "both sides pre-parsed (specifier sets and versions built before timing)",
          contains_string_cached_ns: Number(perItem(oursStr).toFixed(1)),
          ours_disagree_with_packaging_of_12000: oursVsPackaging,
        },
      });
    }
  },
};
