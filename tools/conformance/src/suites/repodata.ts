import {
  type CondaRecord,
  defaultCondaSemantics,
  isResolverError,
  parseRepodata,
  solveCondaRecords,
} from "@mlenv/resolver";
import { type ConformanceSuite, expectEqual, type FileReport, Mismatch } from "../suite";

const FOLDER = "repodata/";

interface Index {
  problems: {
    conda_channel4_fresh_installs: { cases: { name: string; specs: string[]; expected_records: string[] }[] };
    sudoku: { specs: string[]; expected: string };
    rattler_benchmark_specs: { specs: string[][] };
  };
}

/**
 * Channel records from conda's flat test index (tests/data/index4.json), split like conda's
 * test helper: records in subdir noarch (or with a noarch field) go to noarch, the rest to the
 * host subdir.
 */
export function index4Channel(flat: Record<string, Record<string, unknown>>, channel: string): CondaRecord[] {
  const host: Record<string, unknown> = {};
  const noarch: Record<string, unknown> = {};
  for (const [fn, rec] of Object.entries(flat)) {
    if (rec.subdir === "noarch" || (rec.noarch !== undefined && rec.noarch !== null)) noarch[fn] = rec;
    else host[fn] = rec;
  }
  return [
    ...parseRepodata(JSON.stringify({ packages: host }), { channel, subdir: "linux-64" }),
    ...parseRepodata(JSON.stringify({ packages: noarch }), { channel, subdir: "noarch" }),
  ];
}

/** conda's own solve expectations on index4.json, and mamba's unsolvable sudoku channel. */
export const repodataSuite: ConformanceSuite = {
  name: "repodata",
  claims: [FOLDER],
  async run(ctx) {
    const index = ctx.readJson("repodata/INDEX.json") as Index;
    const reports: FileReport[] = [];

    const run4 = ctx.file("repodata/conda__tests__data__index4.json");
    const flat = ctx.readJson("repodata/conda__tests__data__index4.json") as Record<
      string,
      Record<string, unknown>
    >;
    const records = index4Channel(flat, "https://conda.example/channel-4");
    let i = 0;
    for (const c of index4Problems(index)) {
      let result: unknown;
      try {
        const sol = await solveCondaRecords({
          channels: [records],
          specs: c.specs,
          subdir: "linux-64",
          semantics: defaultCondaSemantics,
        });
        result = sol.records.map((r) => `${r.name}-${r.version}-${r.build}`).sort();
      } catch (e) {
        result = e;
      }
      run4.case(c.name, i++, () => {
        if (result instanceof Error) throw new Mismatch(`${c.name}: ${result.message.slice(0, 300)}`);
        expectEqual(result, [...c.expected_records].sort(), `${c.name} (${c.specs.join(", ")})`);
      });
    }
    reports.push(run4.done());

    const runS = ctx.file("repodata/mamba__libmamba__tests__data__repodata__sudoku.json");
    const sudoku = parseRepodata(
      ctx.readText("repodata/mamba__libmamba__tests__data__repodata__sudoku.json"),
      {
        channel: "https://conda.example/sudoku",
        subdir: "noarch",
      },
    );
    let outcome: unknown;
    try {
      await solveCondaRecords({
        channels: [sudoku],
        specs: index.problems.sudoku.specs,
        subdir: "linux-64",
        semantics: defaultCondaSemantics,
      });
      outcome = "solved";
    } catch (e) {
      outcome = e;
    }
    runS.case("sudoku", 0, () => {
      if (!isResolverError(outcome) || outcome.code !== "E_UNSATISFIABLE") {
        throw new Mismatch(
          `sudoku: expected UNSATISFIABLE, got ${outcome instanceof Error ? outcome.message : String(outcome)}`,
        );
      }
      if (outcome.explanation.length === 0)
        throw new Mismatch("sudoku: expected an explanation of the conflict");
    });
    reports.push(runS.done());
    return reports;
  },
};

export function index4Problems(index: Index) {
  return index.problems.conda_channel4_fresh_installs.cases;
}
