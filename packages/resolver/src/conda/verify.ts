import type { CondaSemantics } from "./provider";
import type { CondaRecord } from "./record";
import { type VirtualPackageOptions, virtualPackages } from "./virtual";

export interface VerifyInput {
  records: CondaRecord[];
  specs: string[];
  subdir: string;
  semantics: CondaSemantics;
  virtualPackages?: VirtualPackageOptions;
  /** Another solver's answer to compare versions against. */
  compareTo?: { name: string; version: string }[];
}

export interface VerifyResult {
  /** Broken constraints (empty when the solution is valid). */
  problems: string[];
  /** Names whose version is older / newer than in `compareTo`. */
  older: string[];
  newer: string[];
}

/**
 * Independently check a conda solution: one record per name, every requested spec and every
 * dependency matched by a chosen record, no `constrains` violated.
 */
export function verifyCondaSolution(input: VerifyInput): VerifyResult {
  const problems: string[] = [];
  const chosen = new Map<string, CondaRecord>();
  for (const r of [...input.records, ...virtualPackages(input.subdir, input.virtualPackages)]) {
    if (chosen.has(r.name)) problems.push(`two records of ${r.name}`);
    chosen.set(r.name, r);
  }
  const holds = (spec: string, optional: boolean): boolean => {
    const m = input.semantics.parseMatchSpec(spec);
    const r = chosen.get(m.name);
    return r ? m.matches(r) : optional;
  };
  for (const s of input.specs) if (!holds(s, false)) problems.push(`request ${s} not satisfied`);
  for (const r of input.records) {
    for (const d of r.depends)
      if (!holds(d, false)) problems.push(`${r.name}-${r.version}-${r.build} needs ${d}`);
    for (const c of r.constrains)
      if (!holds(c, true)) problems.push(`${r.name}-${r.version}-${r.build} constrains ${c}`);
  }
  const older: string[] = [];
  const newer: string[] = [];
  for (const o of input.compareTo ?? []) {
    const mine = chosen.get(o.name);
    if (!mine) continue;
    const c = input.semantics.compareVersions(mine.version, o.version);
    if (c < 0) older.push(`${o.name} ${mine.version}<${o.version}`);
    else if (c > 0) newer.push(`${o.name} ${mine.version}>${o.version}`);
  }
  return { problems, older, newer };
}
