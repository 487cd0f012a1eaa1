import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { channelFilesFromFlatIndex, serveCondaChannel, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { httpCondaChannel } from "./conda/channel";
import { parseRepodata } from "./conda/record";
import { defaultCondaSemantics } from "./conda/semantics";
import { solveConda, solveCondaRecords } from "./conda/solve";
import { verifyCondaSolution } from "./conda/verify";
import { isResolverError } from "./errors";

const dir = join(
  process.env.MLENV_CONFORMANCE_DIR ?? join(import.meta.dirname, "../../../../shared/conformance"),
  "repodata",
);
const present = existsSync(join(dir, "INDEX.json"));

describe.skipIf(skipWithout("conformance", present ? null : `${dir}/INDEX.json is missing`))(
  "conda solve expectations from conda's and mamba's test suites",
  () => {
    const index = present
      ? (JSON.parse(readFileSync(join(dir, "INDEX.json"), "utf8")) as {
          problems: {
            conda_channel4_fresh_installs: {
              cases: { name: string; specs: string[]; expected_records: string[] }[];
            };
            sudoku: { specs: string[] };
          };
        })
      : null;

    it("solves every index4 problem over a loopback HTTP channel to conda's expected records", async () => {
      const flat = JSON.parse(readFileSync(join(dir, "conda__tests__data__index4.json"), "utf8"));
      const server = await serveCondaChannel({ files: channelFilesFromFlatIndex(flat) });
      try {
        for (const c of index?.problems.conda_channel4_fresh_installs.cases ?? []) {
          const sol = await solveConda({
            channels: [httpCondaChannel(server.url)],
            specs: c.specs,
            subdir: "linux-64",
            semantics: defaultCondaSemantics,
          });
          expect(sol.records.map((r) => `${r.name}-${r.version}-${r.build}`).sort(), c.name).toEqual(
            [...c.expected_records].sort(),
          );
          const check = verifyCondaSolution({
            records: sol.records,
            specs: c.specs,
            subdir: "linux-64",
            semantics: defaultCondaSemantics,
          });
          expect(check.problems, c.name).toEqual([]);
        }
      } finally {
        await server.close();
      }
    });

    // conda ranks solutions by the requested packages' versions, then the number of packages
    // with track_features, then the requested build numbers; rattler and conda give these.
    it.each([
      {
        specs: ["conda-build=3.9", "dask-core>=0.18", "libsoup-devel-cos6-i686==2.34.3", "r<3.4.3"],
        // a dependency (python 3.6.6 -> ncurses >=6.1) must not hold r down to 3.2.2
        expect: { r: "3.4.2", python: "3.6.5" },
      },
      {
        specs: ["r-colorspace", "numpy", "libgfortran-ng>=5.4"],
        expect: { numpy: "1.15.0", "r-colorspace": "1.3_2" },
      },
      // the mro route has the same requested versions and no track_features packages
      {
        specs: ["r-r6", "r-dichromat"],
        expect: { "r-r6": "2.2.2", "r-dichromat": "2.0_0" },
        noTrackFeatures: true,
      },
      // highest build number before the build whose dependencies allow newer versions
      { specs: ["numpy=1.11"], expect: { numpy: "1.11.3", "numpy-base": "1.11.3" }, numpyBuild: 9 },
    ])("follows conda's objective for $specs", async (c) => {
      const flat = JSON.parse(readFileSync(join(dir, "conda__tests__data__index4.json"), "utf8"));
      const server = await serveCondaChannel({ files: channelFilesFromFlatIndex(flat) });
      try {
        const sol = await solveConda({
          channels: [httpCondaChannel(server.url)],
          specs: c.specs,
          subdir: "linux-64",
          semantics: defaultCondaSemantics,
        });
        const versions = Object.fromEntries(sol.records.map((r) => [r.name, r.version]));
        for (const [name, version] of Object.entries(c.expect)) expect(versions[name], name).toBe(version);
        if (c.noTrackFeatures) {
          expect(
            sol.records.filter((r) => r.trackFeatures.length > 0).map((r) => `${r.name}-${r.build}`),
          ).toEqual([]);
        }
        if (c.numpyBuild !== undefined) {
          expect(sol.records.find((r) => r.name === "numpy")?.buildNumber).toBe(c.numpyBuild);
        }
        const check = verifyCondaSolution({
          records: sol.records,
          specs: c.specs,
          subdir: "linux-64",
          semantics: defaultCondaSemantics,
        });
        expect(check.problems).toEqual([]);
      } finally {
        await server.close();
      }
    });

    it("refutes the sudoku channel with a short explanation", async () => {
      const recs = parseRepodata(
        readFileSync(join(dir, "mamba__libmamba__tests__data__repodata__sudoku.json"), "utf8"),
        { channel: "https://conda.example/sudoku", subdir: "noarch" },
      );
      const e = await solveCondaRecords({
        channels: [recs],
        specs: index?.problems.sudoku.specs ?? [],
        subdir: "linux-64",
        semantics: defaultCondaSemantics,
      }).catch((x) => x);
      expect(isResolverError(e) && e.code).toBe("E_UNSATISFIABLE");
      const explanation = (e as { explanation: string[] }).explanation;
      expect(explanation.length).toBeGreaterThan(1);
      expect(explanation.length).toBeLessThanOrEqual(41);
      expect(explanation.join("\n")).toMatch(/you asked for sudoku_/);
    });
  },
);
