import { readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";

/** Reasons, per file, for cases that are not applicable: keys are a section or `section#index`. */
export type NotApplicable = Record<string, Record<string, string>>;

/** The outcome of one conformance file. */
export interface FileReport {
  file: string;
  passed: number;
  failed: number;
  notApplicable: number;
  /** One line per failed case: `section#index: message`. */
  failures: string[];
}

export interface SuiteContext {
  /** The conformance folder. */
  dir: string;
  readJson(rel: string): unknown;
  readText(rel: string): string;
  /** Start counting cases for one file. */
  file(rel: string): FileRun;
}

/** A pluggable suite: it claims files or folders listed in index.json and runs their cases. */
export interface ConformanceSuite {
  name: string;
  /** Entries of index.json this suite handles (`pep440_versions.json`, `packse/`). */
  claims: readonly string[];
  run(ctx: SuiteContext): FileReport[] | Promise<FileReport[]>;
}

/** Thrown by {@link expectEqual}; its message names expected and actual values. */
export class Mismatch extends Error {}

export function expectEqual(actual: unknown, expected: unknown, what = "value"): true {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Mismatch(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
  return true;
}

/** Loop helper for case lists (index first-class). */
export function each<T>(xs: readonly T[], fn: (x: T, i: number) => void): void {
  for (let i = 0; i < xs.length; i++) fn(xs[i] as T, i);
}

/** Expect `fn` to throw; returns the error. */
export function expectThrows(fn: () => unknown, what = "call"): unknown {
  try {
    const r = fn();
    throw new Mismatch(`${what}: expected an error, got ${show(r)}`);
  } catch (e) {
    if (e instanceof Mismatch) throw e;
    return e;
  }
}

function show(x: unknown): string {
  const s = JSON.stringify(x, (_k, v) => (typeof v === "bigint" ? String(v) : v)) ?? String(x);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** Counts the cases of one file. Each case runs in isolation; an exception is a failure. */
export class FileRun {
  private readonly report: FileReport;

  constructor(
    file: string,
    private readonly na: Record<string, string>,
  ) {
    this.report = { file, passed: 0, failed: 0, notApplicable: 0, failures: [] };
  }

  /** Run one case. `fn` passes by returning; it fails by throwing. */
  case(section: string, index: number, fn: () => void): void {
    if (this.na[section] !== undefined || this.na[`${section}#${index}`] !== undefined) {
      this.report.notApplicable++;
      return;
    }
    try {
      fn();
      this.report.passed++;
    } catch (e) {
      this.report.failed++;
      const msg = e instanceof Error ? e.message : String(e);
      this.report.failures.push(`${section}#${index}: ${msg.replace(/\s+/g, " ").slice(0, 400)}`);
    }
  }

  done(): FileReport {
    return this.report;
  }
}

export function makeContext(dir: string, na: NotApplicable): SuiteContext {
  return {
    dir,
    readJson: (rel) => JSON.parse(readFileSync(join(dir, rel), "utf8")),
    readText: (rel) => readFileSync(join(dir, rel), "utf8"),
    file: (rel) => new FileRun(rel, na[rel] ?? {}),
  };
}

/**
 * A suite for one JSON file of the conformance folder: `cases` gets the parsed file and runs its
 * cases on `t`; the suite reports that one file.
 */
export function jsonFileSuite<D>(
  name: string,
  file: string,
  cases: (d: D, t: FileRun) => void,
): ConformanceSuite {
  return {
    name,
    claims: [file],
    run(ctx) {
      const d = ctx.readJson(file) as D;
      const t = ctx.file(file);
      cases(d, t);
      return [t.done()];
    },
  };
}

/** Run every case of every section, counted under the section's name, through `check`. */
export function eachSectionCase<C>(
  t: FileRun,
  sections: readonly { name: string; cases: readonly C[] }[],
  check: (section: string, c: C) => unknown,
): void {
  for (const s of sections) each(s.cases, (c, i) => t.case(s.name, i, () => void check(s.name, c)));
}
