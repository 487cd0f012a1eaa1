/**
 * MatchSpec.match throughput over conda package records (name/version/build/channel checks), and
 * the version part alone (VersionSpec.match on parsed versions) vs @conda-org/rattler's
 * VersionSpec.matches (WASM; rattler's JS bindings have no MatchSpec). Time per item.
 */
import { createRequire } from "node:module";
import { type CondaPackageRecord, CondaVersion, MatchSpec, VersionSpec } from "@mlenv/core";
import { type BenchSuite, median, timeRuns } from "../harness";
import { condaCorpus } from "./conda-version";

const require = createRequire(import.meta.url);
interface RVersion {
  free(): void;
}
const rattler = require("@conda-org/rattler") as {
  Version: new (v: string) => RVersion;
  VersionSpec: new (s: string) => { matches(v: RVersion): boolean };
};

const SPECS = [
  "numpy >=1.20,<2",
  "conda-forge::numpy 1.26.*",
  "numpy[build=py311*]",
  "numpy >=1.5,!=1.7.*,<3|4.*",
];
const VSPECS = [">=1.20,<2", "1.26.*", ">=1.5,!=1.7.*,<3|4.*", "~=2.1"];

export const suite: BenchSuite = {
  name: "matchspec",
  async run(ctx) {
    const versions = condaCorpus(20_000, 99);
    const records: CondaPackageRecord[] = versions.map((v, i) => ({
      name: i % 5 === 0 ? "scipy" : "numpy",
      version: v,
      build: `py3${9 + (i % 4)}h${(i * 2654435761) % 1e7}_0`,
      build_number: i % 3,
      channel: i % 2 ? "https://conda.anaconda.org/conda-forge" : "https://repo.anaconda.com/pkgs/main",
      subdir: "linux-64",
    }));
    const specs = SPECS.map((s) => MatchSpec.parse(s));
    let sink = 0;
    const matchMs = median(
      await timeRuns(
        () => {
          for (const m of specs) for (const r of records) if (m.match(r)) sink++;
        },
        { runs: 5, warmup: 2 },
      ),
    );
    ctx.report({
      bench: "MatchSpec.match per record",
      value: (matchMs * 1e6) / (records.length * specs.length),
      unit: "ns/item",
    });

    const ours = versions.map((v) => CondaVersion.parse(v));
    const oursSpecs = VSPECS.map((s) => new VersionSpec(s));
    const theirs = versions.map((v) => new rattler.Version(v));
    const theirSpecs = VSPECS.map((s) => new rattler.VersionSpec(s));
    let agree = 0;
    for (let j = 0; j < VSPECS.length; j++)
      for (let i = 0; i < 2000; i++)
        if (
          (oursSpecs[j] as VersionSpec).match(ours[i] as CondaVersion) ===
          theirSpecs[j]?.matches(theirs[i] as RVersion)
        )
          agree++;
    const oursMs = median(
      await timeRuns(
        () => {
          for (const s of oursSpecs) for (const v of ours) if (s.match(v)) sink++;
        },
        { runs: 5, warmup: 2 },
      ),
    );
    const theirsMs = median(
      await timeRuns(
        () => {
          for (const s of theirSpecs) for (const v of theirs) if (s.matches(v)) sink++;
        },
        { runs: 3, warmup: 1 },
      ),
    );
    for (const v of theirs) v.free();
    const n = versions.length * VSPECS.length;
    ctx.compare({
      bench: "conda VersionSpec match per item (parsed versions)",
      ours: (oursMs * 1e6) / n,
      peer: "@conda-org/rattler VersionSpec.matches",
      theirs: (theirsMs * 1e6) / n,
      unit: "ns/item",
      extra: { agreement_of_8000: agree, sink: sink % 7 },
    });
  },
};
