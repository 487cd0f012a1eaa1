import { type ClauseOrigin, type Dependencies, type DependencyProvider, groupOneOf } from "../solver/cdcl";
import { type CondaRecord, type CondaRecordSource, recordSource } from "./record";

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
  /** Solvable id -> record. Filled per package name on first use. */
  readonly records: CondaRecord[] = [];
  private readonly channelOf: number[] = [];
  private readonly sources: CondaRecordSource[];
  private readonly nameIds = new Map<string, number>();
  /** Solvables per name; sorted by preference on first use (see `ensureSorted`). */
  private readonly byName: number[][] = [];
  private readonly sorted: boolean[] = [];
  /** Version rank per solvable within its name (0 = newest), filled per name on demand. */
  private readonly versionRank: number[] = [];
  private readonly ranked: boolean[] = [];
  private readonly reqs: { spec: string; name: string; matches(r: CondaRecord): boolean }[] = [];
  private readonly reqIds = new Map<string, number>();
  private readonly candCache: (number[] | undefined)[] = [];
  private readonly depCache: (Dependencies | undefined)[] = [];
  private readonly bestRankCache = new Map<number, { rank: number; tfOnly: boolean }>();
  private readonly depIds: (number[] | undefined)[] = [];
  private readonly depNames: (Map<string, number> | undefined)[] = [];

  constructor(
    /**
     * Records per channel, highest priority first: arrays, or sources read by package name
     * (only the names a solve reaches are ever read).
     */
    channels: readonly (readonly CondaRecord[] | CondaRecordSource)[],
    private readonly semantics: CondaSemantics,
    private readonly priority: ChannelPriority = "flexible",
  ) {
    this.sources = channels.map((c) => (isRecordArray(c) ? recordSource(c) : c));
  }

  /** The id of a package name, reading its records from every channel the first time. */
  private nameId(name: string): number {
    let id = this.nameIds.get(name);
    if (id !== undefined) return id;
    id = this.byName.length;
    this.nameIds.set(name, id);
    const ids: number[] = [];
    for (let ch = 0; ch < this.sources.length; ch++) {
      for (const rec of (this.sources[ch] as CondaRecordSource).recordsOf(name)) {
        ids.push(this.records.length);
        this.records.push(rec);
        this.channelOf.push(ch);
      }
    }
    this.byName.push(ids);
    this.sorted.push(false);
    this.ranked.push(false);
    return id;
  }

  /** Rank the versions of one name (parsing each distinct version once). */
  private ensureRanked(name: number): void {
    if (this.ranked[name]) return;
    this.ranked[name] = true;
    const ids = this.byName[name] as number[];
    const versions = [...new Set(ids.map((s) => (this.records[s] as CondaRecord).version))].sort((a, b) =>
      this.semantics.compareVersions(b, a),
    );
    const rank = new Map<string, number>();
    for (let i = 0; i < versions.length; i++) rank.set(versions[i] as string, i);
    for (const s of ids) this.versionRank[s] = rank.get((this.records[s] as CondaRecord).version) as number;
  }

  /**
   * Best (lowest) version rank any record matching `requirement` has (Infinity when none), and
   * whether every matching record has track_features.
   */
  private bestRank(requirement: number): { rank: number; tfOnly: boolean } {
    const got = this.bestRankCache.get(requirement);
    if (got !== undefined) return got;
    const r = this.reqs[requirement];
    let rank = Number.POSITIVE_INFINITY;
    let tfOnly = true;
    if (r) {
      const nameId = this.nameId(r.name);
      this.ensureRanked(nameId);
      for (const s of this.byName[nameId] as number[]) {
        const rec = this.records[s] as CondaRecord;
        const vr = this.versionRank[s] as number;
        if ((vr < rank || tfOnly) && r.matches(rec)) {
          if (vr < rank) rank = vr;
          if (rec.trackFeatures.length === 0) tfOnly = false;
        }
      }
    }
    const out = { rank, tfOnly };
    this.bestRankCache.set(requirement, out);
    return out;
  }

  /**
   * Between two records of equal version and build number, prefer the one whose dependencies
   * allow newer versions, like rattler: every dependency name both records require with
   * different specs scores one for the spec whose newest match is newer (100 when only one of
   * them can be met without track_features); the higher total wins. The py37 build of a
   * package beats its py35 build.
   */
  private compareDeps(x: number, y: number): number {
    if (this.depReqs(x).length === 0 || this.depReqs(y).length === 0) return 0;
    const a = this.depsByName(x);
    const b = this.depsByName(y);
    let score = 0;
    for (const [name, ida] of a) {
      const idb = b.get(name);
      if (idb === undefined || idb === ida) continue;
      const ra = this.bestRank(ida);
      const rb = this.bestRank(idb);
      if (ra.rank === Number.POSITIVE_INFINITY || rb.rank === Number.POSITIVE_INFINITY) continue;
      if (ra.tfOnly !== rb.tfOnly) score += ra.tfOnly ? 100 : -100;
      else score += Math.sign(ra.rank - rb.rank);
    }
    return score;
  }

  /** Requirement ids of a solvable's dependencies, in order. */
  private depReqs(solvable: number): number[] {
    let ids = this.depIds[solvable];
    if (!ids) {
      ids = (this.records[solvable] as CondaRecord).depends.map((d) => this.requirement(d));
      this.depIds[solvable] = ids;
    }
    return ids;
  }

  /** A solvable's dependencies as package name -> requirement id (the last one per name). */
  private depsByName(solvable: number): Map<string, number> {
    let m = this.depNames[solvable];
    if (!m) {
      m = new Map();
      for (const id of this.depReqs(solvable)) m.set((this.reqs[id] as { name: string }).name, id);
      this.depNames[solvable] = m;
    }
    return m;
  }

  /**
   * Preference order of one name (rattler's): channel priority (strict: only the best channel),
   * no track_features first, newest version, highest build number, newest dependencies, newest
   * timestamp.
   */
  private ensureSorted(name: number): number[] {
    const ids0 = this.byName[name] as number[];
    if (this.sorted[name]) return ids0;
    this.sorted[name] = true;
    this.ensureRanked(name);
    let ids = ids0;
    if (this.priority === "strict") {
      let best = Number.POSITIVE_INFINITY;
      for (const s of ids) best = Math.min(best, this.channelOf[s] as number);
      ids = ids.filter((s) => this.channelOf[s] === best);
    }
    const useCh = this.priority !== "disabled";
    const tf = (s: number) => ((this.records[s] as CondaRecord).trackFeatures.length > 0 ? 1 : 0);
    ids.sort((x, y) => {
      const a = this.records[x] as CondaRecord;
      const b = this.records[y] as CondaRecord;
      return (
        (useCh ? (this.channelOf[x] as number) - (this.channelOf[y] as number) : 0) ||
        tf(x) - tf(y) ||
        (this.versionRank[x] as number) - (this.versionRank[y] as number) ||
        b.buildNumber - a.buildNumber ||
        this.compareDeps(x, y) ||
        b.timestamp - a.timestamp
      );
    });
    this.byName[name] = ids;
    return ids;
  }

  private nameRecords(name: string): number[] {
    return this.ensureSorted(this.nameId(name));
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

  /** Package name id a requirement is about. */
  requirementName(requirement: number): number {
    return this.nameId((this.reqs[requirement] as { name: string }).name);
  }

  /**
   * How far a solvable is from the best of its name, lower is better: its channel's priority
   * (unless disabled) before its version rank (0 for the newest version).
   */
  versionRankOf(solvable: number): number {
    this.ensureRanked(this.nameOf(solvable));
    const v = this.versionRank[solvable] as number;
    return this.priority === "disabled" ? v : (this.channelOf[solvable] as number) * 1e6 + v;
  }

  nameOf(solvable: number): number {
    return this.nameId((this.records[solvable] as CondaRecord).name);
  }

  solvablesOfName(name: number): readonly number[] {
    return name < this.byName.length ? this.ensureSorted(name) : [];
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
    const requires = this.depReqs(solvable);
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
      }
    }
    const oneOf = groupOneOf(
      core,
      (r) => (this.records[r] as CondaRecord).name,
      (r) => this.label(r),
    );
    for (const [name, list] of oneOf) {
      lines.push(
        `only one ${name} can be installed, and these conflict: ${list.slice(0, 6).join(", ")}${list.length > 6 ? ` and ${list.length - 6} more` : ""}`,
      );
    }
    return lines;
  }
}

const isRecordArray = (c: readonly CondaRecord[] | CondaRecordSource): c is readonly CondaRecord[] =>
  Array.isArray(c);
