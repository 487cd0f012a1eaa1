/**
 * A conflict-driven clause-learning (CDCL) solver over package candidates, in the style of
 * libsolv/resolvo: every candidate is a boolean variable, dependency and "one version per name"
 * clauses are generated lazily as candidates become true, decisions pick the best (newest)
 * undecided candidate of the most constrained open requirement, and conflicts are analysed to
 * the first unique implication point, learned, and backjumped over.
 */

/** Solvable ids are provider-chosen non-negative integers; requirement ids likewise. */
export interface DependencyProvider {
  /** Name id of a solvable (all solvables of one name exclude each other). */
  nameOf(solvable: number): number;
  /** Every solvable of a name (used for the at-most-one clauses). */
  solvablesOfName(name: number): readonly number[] | Promise<readonly number[]>;
  /** Solvables matching a requirement, best first. */
  candidates(requirement: number): readonly number[] | Promise<readonly number[]>;
  /** Dependencies of a solvable: requirements it needs, and solvables it forbids. */
  dependencies(solvable: number): Dependencies | Promise<Dependencies>;
}

export interface Dependencies {
  requires: readonly number[];
  /** Each constraint: the requirement id it came from and the solvables it rules out. */
  constrains: readonly { requirement: number; forbidden: readonly number[] }[];
}

/** Why a clause exists: used to explain an unsatisfiable request. */
export type ClauseOrigin =
  | { kind: "root"; requirement: number }
  | { kind: "requires"; solvable: number; requirement: number }
  | { kind: "constrains"; solvable: number; requirement: number; forbidden: number }
  | { kind: "oneOf"; a: number; b: number }
  | { kind: "learned"; from: number[] };

/**
 * The `oneOf` clauses of a conflict grouped by what they are about (`keyOf` a solvable, e.g. its
 * package name): each key with the labels of the solvables that exclude each other, first seen first.
 */
export function groupOneOf(
  core: readonly ClauseOrigin[],
  keyOf: (solvable: number) => string,
  label: (solvable: number) => string,
): Map<string, string[]> {
  const groups = new Map<string, Set<string>>();
  for (const o of core) {
    if (o.kind !== "oneOf") continue;
    const key = keyOf(o.a);
    let set = groups.get(key);
    if (!set) {
      set = new Set();
      groups.set(key, set);
    }
    set.add(label(o.a));
    set.add(label(o.b));
  }
  return new Map([...groups].map(([key, set]) => [key, [...set]]));
}

export type SolveOutcome =
  | { ok: true; solvables: number[]; stats: SolveStats }
  | { ok: false; core: ClauseOrigin[]; stats: SolveStats };

export interface SolveStats {
  decisions: number;
  conflicts: number;
  clauses: number;
  propagations: number;
}

const ROOT = 0; // variable 0 is the root, always true

const isThenable = <T>(v: T | Promise<T>): v is Promise<T> =>
  typeof (v as { then?: unknown } | null)?.then === "function";

/**
 * Solve `rootRequirements` (every one must be satisfied) against a provider. Returns the chosen
 * solvables, or the original clauses forming the conflict (for `explainConflict`).
 */
export interface SolveOptions {
  /**
   * uv-style conflict prioritisation: once decided candidates of one package have been
   * rejected this many times because of earlier decisions, that package is decided first
   * (after a restart). Off by default (conda's order is kept).
   */
  prioritizeAfterRejections?: number;
  /**
   * Solvables this solve may choose (all when absent): the others are left out of every
   * requirement's candidates, so nothing can make them true. Used to look for a better
   * solution under bounds taken from an earlier one.
   */
  allow?: (solvable: number) => boolean;
  /** Decide open root requirements before any dependency's requirement (conda's objective ranks requested packages first). */
  rootsFirst?: boolean;
}

export async function solveCdcl(
  provider: DependencyProvider,
  rootRequirements: readonly number[],
  options: SolveOptions = {},
): Promise<SolveOutcome> {
  return new Cdcl(provider, options).run(rootRequirements);
}

class Cdcl {
  // variable v = solvable + 1
  private value = new Int8Array(64); // 0 unassigned, 1 true, -1 false
  private level = new Int32Array(64);
  private reason = new Int32Array(64);
  private seen = new Uint8Array(64);
  private expanded = new Uint8Array(64);
  private trail: number[] = []; // literals
  private trailLim: number[] = [];
  private qhead = 0;
  private processed = 0;
  private clauses: number[][] = [];
  private origins: ClauseOrigin[] = [];
  private watches: number[][] = [];
  /** requirement clauses with their candidates in preference order, checked when deciding */
  private reqClauses: { clause: number; owner: number; cands: number[] }[] = [];
  /** How many candidates the last {@link firstOpen} found undecided. */
  private openCount = 0;
  private pending = new Map<number, Pending>();
  private expandPos = new Map<number, number>();
  private forbidDone = new Set<number>();
  private nameSolvables = new Map<number, readonly number[]>();
  private stats: SolveStats = { decisions: 0, conflicts: 0, clauses: 0, propagations: 0 };

  private readonly rejections = new Map<number, number>();
  private readonly boosted = new Set<number>();
  private restart = false;
  /** The root requirements are the first `rootCount` of `reqClauses`. */
  private rootCount = 0;

  constructor(
    private readonly provider: DependencyProvider,
    private readonly options: SolveOptions = {},
  ) {}

  /** A decided solvable was refuted by its own clauses right away: count it against its name. */
  private noteRejection(v: number): void {
    const limit = this.options.prioritizeAfterRejections;
    if (!limit || this.reason[v] !== -1 || v === ROOT) return;
    const name = this.provider.nameOf(v - 1);
    if (this.boosted.has(name)) return;
    const n = (this.rejections.get(name) ?? 0) + 1;
    this.rejections.set(name, n);
    if (n >= limit) {
      this.boosted.add(name);
      this.restart = true;
    }
  }

  private grow(v: number): void {
    if (v < this.value.length) return;
    let n = this.value.length;
    while (n <= v) n *= 2;
    const g8 = (a: Int8Array) => {
      const b = new Int8Array(n);
      b.set(a);
      return b;
    };
    const gu8 = (a: Uint8Array) => {
      const b = new Uint8Array(n);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.value = g8(this.value);
    this.level = g32(this.level);
    this.reason = g32(this.reason);
    this.seen = gu8(this.seen);
    this.expanded = gu8(this.expanded);
  }

  private litValue(lit: number): number {
    const v = this.value[lit >> 1] ?? 0;
    return lit & 1 ? -v : v;
  }

  private get decisionLevel(): number {
    return this.trailLim.length;
  }

  private enqueue(lit: number, reason: number): void {
    const v = lit >> 1;
    this.grow(v);
    this.value[v] = lit & 1 ? -1 : 1;
    this.level[v] = this.decisionLevel;
    this.reason[v] = reason;
    this.trail.push(lit);
  }

  /**
   * Implications made above the level where their clause became unit (chronological
   * backtracking): re-asserted after a backtrack that undoes them while the clause stays unit.
   */
  private lateUnits: { clause: number; lit: number; low: number }[] = [];

  private assertLate(lit: number, clause: number, low: number): void {
    if (low < this.decisionLevel) this.lateUnits.push({ clause, lit, low });
    if (this.litValue(lit) === 0) this.enqueue(lit, clause);
  }

  private backtrack(to: number): void {
    if (this.decisionLevel <= to) return;
    const lim = this.trailLim[to] ?? this.trail.length;
    for (let i = this.trail.length - 1; i >= lim; i--) {
      const v = (this.trail[i] as number) >> 1;
      this.value[v] = 0;
      this.reason[v] = -1;
    }
    this.trail.length = lim;
    this.trailLim.length = to;
    if (this.qhead > lim) this.qhead = lim;
    if (this.processed > lim) this.processed = lim;
    if (this.lateUnits.length) {
      const keep: typeof this.lateUnits = [];
      for (const u of this.lateUnits) {
        if (u.low > to) continue; // the clause is no longer unit
        if (this.litValue(u.lit) === 0) this.enqueue(u.lit, u.clause);
        if (u.low < to) keep.push(u);
      }
      this.lateUnits = keep;
    }
  }

  private watch(lit: number, clause: number): void {
    let w = this.watches[lit];
    if (!w) {
      w = [];
      this.watches[lit] = w;
    }
    w.push(clause);
  }

  /**
   * Add a clause mid-search, keeping the two-watched-literal invariant. Returns a clause index
   * in conflict at the (new) current level, or -1.
   */
  private addClause(lits: number[], origin: ClauseOrigin): number {
    for (const l of lits) this.grow(l >> 1);
    const idx = this.clauses.length;
    this.clauses.push(lits);
    this.origins.push(origin);
    this.stats.clauses++;
    if (lits.length === 0) return idx;
    // order: true (lowest level first), unassigned, false (highest level first)
    if (lits.length > 1) this.orderForWatching(lits);
    const l0 = lits[0] as number;
    if (lits.length === 1) {
      const v0 = this.litValue(l0);
      if (v0 > 0 && this.level[l0 >> 1] === 0) return -1;
      this.backtrack(0);
      if (this.litValue(l0) < 0) return idx; // level-0 conflict
      if (this.litValue(l0) === 0) this.enqueue(l0, idx);
      return -1;
    }
    const l1 = lits[1] as number;
    this.watch(l0, idx);
    this.watch(l1, idx);
    const v0 = this.litValue(l0);
    const v1 = this.litValue(l1);
    if (v1 >= 0) return -1;
    const lev1 = this.level[l1 >> 1] as number;
    if (v0 > 0) {
      if (lev1 < (this.level[l0 >> 1] as number)) this.lateUnits.push({ clause: idx, lit: l0, low: lev1 });
      return -1;
    }
    if (v0 === 0) {
      this.assertLate(l0, idx, lev1);
      return -1;
    }
    // all false
    const lev0 = this.level[l0 >> 1] as number;
    if (lev1 < lev0) {
      // only l0 sits on the highest level: undo just that level and assert its negation
      if (origin.kind === "requires") this.noteRejection(l0 >> 1);
      this.backtrack(lev0 - 1);
      this.assertLate(l0, idx, lev1);
      return -1;
    }
    this.backtrack(lev0);
    return idx;
  }

  /** Sort key for new clauses: true (lowest level first), unassigned, false (highest level first). */
  private rank(l: number): number {
    const val = this.litValue(l);
    const lev = this.level[l >> 1] as number;
    if (val > 0) return lev;
    if (val === 0) return 1e9;
    return 2e9 + (1e9 - lev);
  }

  /** Insertion sort by rank (clauses are short; no closure allocation). */
  private orderForWatching(lits: number[]): void {
    for (let i = 1; i < lits.length; i++) {
      const x = lits[i] as number;
      const rx = this.rank(x);
      let j = i - 1;
      while (j >= 0 && this.rank(lits[j] as number) > rx) {
        lits[j + 1] = lits[j] as number;
        j--;
      }
      lits[j + 1] = x;
    }
  }

  /** Unit propagation; returns a conflicting clause index or -1. */
  private propagate(): number {
    while (this.qhead < this.trail.length) {
      const p = this.trail[this.qhead++] as number;
      const falseLit = p ^ 1;
      const ws = this.watches[falseLit];
      if (!ws) continue;
      let j = 0;
      let i = 0;
      let conflict = -1;
      for (; i < ws.length; i++) {
        const ci = ws[i] as number;
        const c = this.clauses[ci] as number[];
        if (c[0] === falseLit) {
          c[0] = c[1] as number;
          c[1] = falseLit;
        }
        const first = c[0] as number;
        if (this.litValue(first) > 0) {
          ws[j++] = ci;
          continue;
        }
        let found = false;
        for (let k = 2; k < c.length; k++) {
          const lk = c[k] as number;
          if (this.litValue(lk) >= 0) {
            c[1] = lk;
            c[k] = falseLit;
            this.watch(lk, ci);
            found = true;
            break;
          }
        }
        if (found) continue;
        ws[j++] = ci;
        if (this.litValue(first) < 0) {
          conflict = ci;
          i++;
          break;
        }
        this.stats.propagations++;
        this.enqueue(first, ci);
      }
      for (; i < ws.length; i++) ws[j++] = ws[i] as number;
      ws.length = j;
      if (conflict >= 0) return conflict;
    }
    return -1;
  }

  /** 1-UIP analysis. Returns the learned clause (asserting literal first) and backjump level. */
  private analyze(conflict: number): { learned: number[]; back: number; from: number[] } {
    const learned: number[] = [0];
    const from: number[] = [];
    const seenVars: number[] = [];
    let pathC = 0;
    let p = -1;
    let idx = this.trail.length - 1;
    let ci = conflict;
    const cur = this.decisionLevel;
    for (;;) {
      from.push(ci);
      const c = this.clauses[ci] as number[];
      for (const q of c) {
        if (q === p) continue;
        const v = q >> 1;
        if (this.seen[v]) continue;
        const lev = this.level[v] as number;
        if (lev === 0) continue;
        this.seen[v] = 1;
        seenVars.push(v);
        if (lev >= cur) pathC++;
        else learned.push(q);
      }
      while (!this.seen[(this.trail[idx] as number) >> 1]) idx--;
      p = this.trail[idx] as number;
      idx--;
      ci = this.reason[p >> 1] as number;
      pathC--;
      if (pathC <= 0) break;
    }
    learned[0] = p ^ 1;
    for (const v of seenVars) this.seen[v] = 0;
    let back = 0;
    let maxI = 1;
    for (let i = 1; i < learned.length; i++) {
      const lev = this.level[(learned[i] as number) >> 1] as number;
      if (lev > back) {
        back = lev;
        maxI = i;
      }
    }
    if (learned.length > 1) {
      const t = learned[1] as number;
      learned[1] = learned[maxI] as number;
      learned[maxI] = t;
    }
    return { learned, back, from };
  }

  /** Original clauses behind a level-0 conflict (learned clauses expanded). */
  private unsatCore(conflict: number): ClauseOrigin[] {
    const out = new Set<number>();
    const stack = [conflict];
    const visitedVars = new Set<number>();
    while (stack.length) {
      const ci = stack.pop() as number;
      if (out.has(ci)) continue;
      out.add(ci);
      const o = this.origins[ci] as ClauseOrigin;
      if (o.kind === "learned") for (const f of o.from) stack.push(f);
      for (const q of this.clauses[ci] as number[]) {
        const v = q >> 1;
        if (visitedVars.has(v)) continue;
        visitedVars.add(v);
        const r = this.reason[v] as number;
        if (this.value[v] !== 0 && r >= 0) stack.push(r);
      }
    }
    return [...out]
      .sort((a, b) => a - b)
      .map((ci) => this.origins[ci] as ClauseOrigin)
      .filter((o) => o.kind !== "learned");
  }

  /**
   * Clauses a true solvable implies, computed once: its requires and constrains clauses, and
   * the other solvables of its name (their at-most-one clauses are built only when added).
   */
  private async pendingFor(v: number): Promise<Pending> {
    const got = this.pending.get(v);
    if (got) return got;
    const s = v - 1;
    const prov = this.provider;
    const out: PendingClause[] = [];
    const name = prov.nameOf(s);
    let all = this.nameSolvables.get(name);
    if (!all) {
      let a = prov.solvablesOfName(name);
      if (isThenable(a)) a = await a;
      all = a;
      this.nameSolvables.set(name, all);
    }
    let deps = prov.dependencies(s);
    if (isThenable(deps)) deps = await deps;
    for (const req of deps.requires) {
      let cands = prov.candidates(req);
      if (isThenable(cands)) cands = await cands;
      const lits = [((s + 1) << 1) | 1];
      const allow = this.options.allow;
      for (const c of cands) if (!allow || allow(c)) lits.push((c + 1) << 1);
      out.push({ lits, origin: { kind: "requires", solvable: s, requirement: req }, req: true });
    }
    for (const con of deps.constrains) {
      for (const f of con.forbidden) {
        if (f === s) continue;
        out.push({
          lits: [((s + 1) << 1) | 1, ((f + 1) << 1) | 1],
          origin: { kind: "constrains", solvable: s, requirement: con.requirement, forbidden: f },
          req: false,
        });
      }
    }
    const pending: Pending = { clauses: out, sameName: all };
    this.pending.set(v, pending);
    return pending;
  }

  /**
   * Add the clauses of a true solvable. Returns a conflict index, -2 when the assignment
   * changed (enqueue/backtrack; the caller must propagate first), or -1 when done.
   */
  private async expand(v: number): Promise<number> {
    const { clauses, sameName } = await this.pendingFor(v);
    const s = v - 1;
    const total = clauses.length + sameName.length;
    let pos = this.expandPos.get(v) ?? 0;
    while (pos < total) {
      const k = pos++;
      let lits: number[];
      let origin: ClauseOrigin;
      if (k < clauses.length) {
        const pc = clauses[k] as PendingClause;
        if (pc.req) {
          this.reqClauses.push({
            clause: this.clauses.length,
            owner: pc.lits[0] as number,
            cands: pc.lits.slice(1),
          });
        }
        // each pending clause is added once (expandPos), so the clause may own its array
        lits = pc.lits;
        origin = pc.origin;
      } else {
        const o = sameName[k - clauses.length] as number;
        if (o === s) continue;
        const key = s < o ? s * 0x200000 + o : o * 0x200000 + s;
        if (this.forbidDone.has(key)) continue;
        this.forbidDone.add(key);
        lits = [((s + 1) << 1) | 1, ((o + 1) << 1) | 1];
        origin = { kind: "oneOf", a: s, b: o };
      }
      const trailLen = this.trail.length;
      const lvl = this.decisionLevel;
      const r = this.addClause(lits, origin);
      if (r >= 0 || this.trail.length !== trailLen || this.decisionLevel !== lvl) {
        this.expandPos.set(v, pos);
        return r >= 0 ? r : -2;
      }
    }
    this.expandPos.set(v, pos);
    this.expanded[v] = 1;
    return -1;
  }

  async run(roots: readonly number[]): Promise<SolveOutcome> {
    this.grow(1);
    this.reason.fill(-1);
    this.enqueue(ROOT << 1, -1);
    this.expanded[ROOT] = 1;
    const prov = this.provider;
    for (const req of roots) {
      let cands = prov.candidates(req);
      if (isThenable(cands)) cands = await cands;
      const lits = [(ROOT << 1) | 1];
      const allow = this.options.allow;
      for (const c of cands) if (!allow || allow(c)) lits.push((c + 1) << 1);
      this.reqClauses.push({ clause: this.clauses.length, owner: lits[0] as number, cands: lits.slice(1) });
      const conflict = this.addClause(lits, { kind: "root", requirement: req });
      if (conflict >= 0) return { ok: false, core: this.unsatCore(conflict), stats: this.stats };
    }
    this.rootCount = this.reqClauses.length;
    this.processed = 1;
    let pendingConflict = -1;
    for (;;) {
      let conflict = pendingConflict >= 0 ? pendingConflict : this.propagate();
      pendingConflict = -1;
      if (conflict < 0) {
        // expand newly true solvables
        let changed = false;
        while (this.processed < this.trail.length) {
          const lit = this.trail[this.processed] as number;
          const v = lit >> 1;
          if (lit & 1 || this.expanded[v]) {
            this.processed++;
            continue;
          }
          const r = await this.expand(v);
          if (r === -1) {
            this.processed++;
            continue;
          }
          if (r >= 0) conflict = r;
          else changed = true;
          break;
        }
        if (changed) continue;
      }
      if (conflict >= 0) {
        this.stats.conflicts++;
        if (this.decisionLevel === 0) {
          return { ok: false, core: this.unsatCore(conflict), stats: this.stats };
        }
        const { learned, back, from } = this.analyze(conflict);
        this.backtrack(back);
        const idx = this.clauses.length;
        this.clauses.push(learned);
        this.origins.push({ kind: "learned", from });
        if (learned.length > 1) {
          this.watch(learned[0] as number, idx);
          this.watch(learned[1] as number, idx);
        }
        const asserted = learned[0] as number;
        const val = this.litValue(asserted);
        if (val === 0) this.enqueue(asserted, idx);
        else if (val < 0) pendingConflict = idx;
        continue;
      }
      if (this.processed < this.trail.length) continue;
      if (this.restart) {
        this.restart = false;
        this.backtrack(0);
        continue;
      }
      const lit = this.decide();
      if (lit < 0) break;
      this.stats.decisions++;
      this.trailLim.push(this.trail.length);
      this.enqueue(lit, -1);
    }
    const solvables: number[] = [];
    for (const lit of this.trail) if (!(lit & 1) && lit >> 1 !== ROOT) solvables.push((lit >> 1) - 1);
    return { ok: true, solvables, stats: this.stats };
  }

  /**
   * Pick the open requirement (owner true, no candidate true) with the fewest undecided
   * candidates, earliest first on ties, and return its best undecided candidate.
   */
  private decide(): number {
    if (this.options.rootsFirst) {
      const root = this.decideRoot();
      if (root >= 0) return root;
    }
    let best = -1;
    let bestCount = Number.POSITIVE_INFINITY;
    let bestBoost = false;
    for (const rq of this.reqClauses) {
      if (this.litValue(rq.owner) >= 0) continue; // owner not true
      const first = this.firstOpen(rq.cands);
      if (first < 0) continue;
      const count = this.openCount;
      const boost = this.boosted.size > 0 && this.boosted.has(this.provider.nameOf((first >> 1) - 1));
      if ((boost && !bestBoost) || (boost === bestBoost && count < bestCount)) {
        bestCount = count;
        best = first;
        bestBoost = boost;
        if (count === 1 && (boost || this.boosted.size === 0)) break;
      }
    }
    return best;
  }

  /**
   * The first undecided candidate of a requirement, with how many are undecided in `openCount`;
   * -1 when one candidate is already true (nothing to decide) or none is left open.
   */
  private firstOpen(cands: readonly number[]): number {
    let first = -1;
    let count = 0;
    for (const l of cands) {
      const val = this.litValue(l);
      if (val > 0) return -1;
      if (val === 0) {
        if (first < 0) first = l;
        count++;
      }
    }
    this.openCount = count;
    return first;
  }

  /** The best undecided candidate of the open root requirement with the fewest of them, or -1. */
  private decideRoot(): number {
    let best = -1;
    let bestCount = Number.POSITIVE_INFINITY;
    for (let i = 0; i < this.rootCount; i++) {
      const rq = this.reqClauses[i] as (typeof this.reqClauses)[number];
      const first = this.firstOpen(rq.cands);
      if (first < 0 || this.openCount >= bestCount) continue;
      bestCount = this.openCount;
      best = first;
    }
    return best;
  }
}

interface Pending {
  clauses: PendingClause[];
  /** Every solvable of the true solvable's name (itself included). */
  sameName: readonly number[];
}

interface PendingClause {
  lits: number[];
  origin: ClauseOrigin;
  req: boolean;
}
