import type { ClauseOrigin, Dependencies, DependencyProvider } from "../solver/cdcl";
import type { CondaRecord } from "./record";

/** The conda spec/version semantics the provider needs (from @mlenv/core's packaging module). */
export interface CondaSemantics {
  /** Parse a MatchSpec string (`numpy >=1.20,<2 py3*`, `python=3.12`, `conda-forge::pip`). */
  parseMatchSpec(spec: string): { name: string; matches(record: CondaRecord): boolean };
  /** conda version ordering: negative when a < b. */
  compareVersions(a: string, b: string): number;
}

export type ChannelPriority = "strict" | "flexible" | "disabled";

/**
 * Solver view of conda records. Candidates of a name are ordered like conda prefers them:
 * channel priority (unless disabled), no track_features first, newest version, highest build
 * number, newest timestamp.
 */
export class CondaProvider implements DependencyProvider {
  readonly records: CondaRecord[] = [];
  private readonly nameIds = new Map<string, number>();
  private readonly byName: number[][] = [];
  private readonly reqs: { spec: string; name: string; matches(r: CondaRecord): boolean }[] = [];
  private readonly reqIds = new Map<string, number>();
  private readonly candCache: (number[] | undefined)[] = [];
  private readonly depCache: (Dependencies | undefined)[] = [];

  constructor(
    /** Records per channel, highest priority first. */
    channels: CondaRecord[][],
    private readonly semantics: CondaSemantics,
    priority: ChannelPriority = "flexible",
  ) {
    const groups = new Map<string, { rec: CondaRecord; ch: number }[]>();
    channels.forEach((recs, ch) => {
      for (const rec of recs) {
        let g = groups.get(rec.name);
        if (!g) {
          g = [];
          groups.set(rec.name, g);
        }
        g.push({ rec, ch });
      }
    });
    const versionCache = new Map<string, number>();
    for (const [name, g0] of groups) {
      let g = g0;
      if (priority === "strict") {
        let best = Number.POSITIVE_INFINITY;
        for (const e of g) if (e.ch < best) best = e.ch;
        g = g.filter((e) => e.ch === best);
      }
      // rank versions once, then sort by the integer rank
      const versions = [...new Set(g.map((e) => e.rec.version))].sort((a, b) =>
        semantics.compareVersions(b, a),
      );
      versionCache.clear();
      for (let i = 0; i < versions.length; i++) versionCache.set(versions[i] as string, i);
      const useCh = priority !== "disabled";
      g.sort(
        (a, b) =>
          (useCh ? a.ch - b.ch : 0) ||
          (a.rec.trackFeatures.length > 0 ? 1 : 0) - (b.rec.trackFeatures.length > 0 ? 1 : 0) ||
          (versionCache.get(a.rec.version) as number) - (versionCache.get(b.rec.version) as number) ||
          b.rec.buildNumber - a.rec.buildNumber ||
          b.rec.timestamp - a.rec.timestamp,
      );
      const ids: number[] = [];
      for (const e of g) {
        ids.push(this.records.length);
        this.records.push(e.rec);
      }
      this.nameIds.set(name, this.byName.length);
      this.byName.push(ids);
    }
  }

  private nameRecords(name: string): number[] {
    const id = this.nameIds.get(name);
    return id === undefined ? [] : (this.byName[id] as number[]);
  }

  /** Intern a MatchSpec string as a requirement id. */
  requirement(spec: string): number {
    const got = this.reqIds.get(spec);
    if (got !== undefined) return got;
    const parsed = this.semantics.parseMatchSpec(spec);
    const id = this.reqs.length;
    this.reqs.push({ spec, name: parsed.name, matches: (r) => parsed.matches(r) });
    this.reqIds.set(spec, id);
    return id;
  }

  specOf(requirement: number): string {
    return this.reqs[requirement]?.spec ?? "?";
  }

  nameOf(solvable: number): number {
    return this.nameIds.get((this.records[solvable] as CondaRecord).name) as number;
  }

  solvablesOfName(name: number): readonly number[] {
    return this.byName[name] ?? [];
  }

  candidates(requirement: number): readonly number[] {
    const got = this.candCache[requirement];
    if (got) return got;
    const r = this.reqs[requirement];
    const out: number[] = [];
    if (r)
      for (const s of this.nameRecords(r.name)) if (r.matches(this.records[s] as CondaRecord)) out.push(s);
    this.candCache[requirement] = out;
    return out;
  }

  dependencies(solvable: number): Dependencies {
    const got = this.depCache[solvable];
    if (got) return got;
    const rec = this.records[solvable] as CondaRecord;
    const requires = rec.depends.map((d) => this.requirement(d));
    const constrains = rec.constrains.map((c) => {
      const requirement = this.requirement(c);
      const r = this.reqs[requirement] as (typeof this.reqs)[number];
      const allowed = new Set(this.candidates(requirement));
      return { requirement, forbidden: this.nameRecords(r.name).filter((s) => !allowed.has(s)) };
    });
    const deps = { requires, constrains };
    this.depCache[solvable] = deps;
    return deps;
  }

  /** `name-version-build` of a solvable. */
  label(solvable: number): string {
    const r = this.records[solvable];
    return r ? `${r.name}-${r.version}-${r.build}` : "?";
  }

  /** Human statements for the clauses behind a conflict. */
  explain(core: ClauseOrigin[]): string[] {
    const lines: string[] = [];
    const oneOf = new Map<string, Set<string>>();
    for (const o of core) {
      if (o.kind === "root") {
        const n = this.candidates(o.requirement).length;
        lines.push(
          n === 0
            ? `you asked for ${this.specOf(o.requirement)}, but no package in the channels matches it`
            : `you asked for ${this.specOf(o.requirement)} (${n} candidate${n === 1 ? "" : "s"})`,
        );
      } else if (o.kind === "requires") {
        const n = this.candidates(o.requirement).length;
        lines.push(
          `${this.label(o.solvable)} requires ${this.specOf(o.requirement)}${n === 0 ? ", which no package in the channels provides" : ""}`,
        );
      } else if (o.kind === "constrains") {
        lines.push(
          `${this.label(o.solvable)} constrains ${this.specOf(o.requirement)}, which rules out ${this.label(o.forbidden)}`,
        );
      } else if (o.kind === "oneOf") {
        const name = (this.records[o.a] as CondaRecord).name;
        let s = oneOf.get(name);
        if (!s) {
          s = new Set();
          oneOf.set(name, s);
        }
        s.add(this.label(o.a));
        s.add(this.label(o.b));
      }
    }
    for (const [name, set] of oneOf) {
      const list = [...set];
      lines.push(
        `only one ${name} can be installed, and these conflict: ${list.slice(0, 6).join(", ")}${list.length > 6 ? ` and ${list.length - 6} more` : ""}`,
      );
    }
    return lines;
  }
}
