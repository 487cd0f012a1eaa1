/**
 * SpecifierSet.contains throughput (what a resolver does per candidate): realistic specifier
 * sets against a deterministic PEP 440 corpus, versions given as parsed Version objects and as
 * strings (parse cached), vs @renovatebot/pep440's satisfies(version, specifier). Time per item.
 */
import { createRequire } from "node:module";
import { SpecifierSet, Version } from "@mlenv/core";
import { type BenchSuite, median, timeRuns } from "../harness";
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
      bench: "SpecifierSet.contains(Version) per item",
      ours: perItem(oursObj),
      peer: "@renovatebot/pep440 satisfies",
      theirs: perItem(theirs),
      unit: "ns/item",
      extra: {
        contains_string_ns: Number(perItem(oursStr).toFixed(1)),
        agreement_of_12000: agree,
        sink: sink % 7,
      },
    });
  },
};
