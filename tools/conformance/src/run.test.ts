import { existsSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { makeTempDir, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { runConformance } from "./run";
import type { ConformanceSuite } from "./suite";
import { expectEqual } from "./suite";
import { suites } from "./suites/index";

const folder = resolve(
  process.env.MLENV_CONFORMANCE_DIR ?? join(import.meta.dirname, "../../../../shared/conformance"),
);
const missing = existsSync(join(folder, "index.json")) ? null : `no conformance folder at ${folder}`;

describe("conformance runner mechanics", () => {
  it("counts passes, failures, not-applicable cases and unclaimed entries", async () => {
    const tmp = makeTempDir();
    const dir = tmp.path;
    writeFileSync(
      join(dir, "index.json"),
      JSON.stringify({ files: [{ file: "a.json" }, { folder: "later/" }] }),
    );
    writeFileSync(join(dir, "a.json"), JSON.stringify({ cases: [1, 2, 3] }));
    const suite: ConformanceSuite = {
      name: "toy",
      claims: ["a.json"],
      run(ctx) {
        const t = ctx.file("a.json");
        const data = ctx.readJson("a.json") as { cases: number[] };
        data.cases.forEach((n, i) => {
          t.case("cases", i, () => {
            expectEqual(n < 3, true, `case ${n}`);
          });
        });
        return [t.done()];
      },
    };
    const out = await runConformance(dir, [suite]);
    expect(out.unclaimed).toEqual(["later/"]);
    expect(out.passed).toBe(2);
    expect(out.failed).toBe(1);
    expect(out.reports[0]?.failures[0]).toContain("cases#2");
    tmp.cleanup();
  });
});

/** The packaging-semantics suites (the resolver's packse/repodata suites have their own tests). */
const PACKAGING = new Set([
  "pep440-versions",
  "pep440-specifiers",
  "pep508-markers",
  "pep508-requirements",
  "conda-versions",
  "conda-matchspec",
  "pip-requirements-file",
  "real-world",
]);

describe.skipIf(skipWithout("conformance", missing))("conformance vectors", () => {
  it("passes every case of every packaging file (pep440, pep508, conda, pip, real-world)", async () => {
    const out = await runConformance(
      folder,
      suites.filter((s) => PACKAGING.has(s.name)),
    );
    const failures = out.reports.flatMap((r) => r.failures.map((f) => `${r.file}: ${f}`));
    expect(failures.slice(0, 20)).toEqual([]);
    expect(out.failed).toBe(0);
    expect(out.reports.map((r) => r.file)).toContain("pep440_versions.json");
    expect(out.passed).toBeGreaterThan(12_000);
  }, 120_000);
});
