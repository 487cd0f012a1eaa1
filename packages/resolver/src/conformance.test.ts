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
