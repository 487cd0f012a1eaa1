import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type ConformanceSuite, type FileReport, makeContext, type NotApplicable } from "./suite";
import { suites as defaultSuites } from "./suites/index";

export interface RunOutcome {
  reports: FileReport[];
  /** index.json entries no suite claims. */
  unclaimed: string[];
  passed: number;
  failed: number;
  notApplicable: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The committed list of not-applicable cases, with reasons. */
export function loadNotApplicable(): NotApplicable {
  const raw = JSON.parse(readFileSync(join(here, "..", "not-applicable.json"), "utf8")) as {
    files: NotApplicable;
  };
  return raw.files;
}

/** Entries of `DIR/index.json` (files and folders). */
export function indexEntries(dir: string): string[] {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as {
    files: { file?: string; folder?: string }[];
  };
  return index.files.map((f) => (f.file ?? f.folder) as string);
}

/** Run every suite on the conformance folder `dir`. */
export async function runConformance(
  dir: string,
  suites: readonly ConformanceSuite[] = defaultSuites,
): Promise<RunOutcome> {
  if (!existsSync(join(dir, "index.json"))) throw new Error(`Expected ${join(dir, "index.json")} to exist`);
  const ctx = makeContext(dir, loadNotApplicable());
  const entries = indexEntries(dir);
  const reports: FileReport[] = [];
  const unclaimed: string[] = [];
  for (const entry of entries) {
    const suite = suites.find((s) => s.claims.includes(entry));
    if (suite === undefined) {
      unclaimed.push(entry);
    }
  }
  for (const suite of suites) {
    if (!suite.claims.some((c) => entries.includes(c))) continue;
    try {
      reports.push(...(await suite.run(ctx)));
    } catch (e) {
      reports.push({
        file: suite.claims.join(", "),
        passed: 0,
        failed: 1,
        notApplicable: 0,
        failures: [`suite ${suite.name} crashed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`],
      });
    }
  }
  let passed = 0;
  let failed = 0;
  let notApplicable = 0;
  for (const r of reports) {
    passed += r.passed;
    failed += r.failed;
    notApplicable += r.notApplicable;
  }
  return { reports, unclaimed, passed, failed, notApplicable };
}
