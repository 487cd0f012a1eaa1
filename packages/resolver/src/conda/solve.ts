import { ResolverError, ResolverErrorCode } from "../errors";
import { type SolveOutcome, type SolveStats, solveCdcl } from "../solver/cdcl";
import type { CondaChannel } from "./channel";
import { type ChannelPriority, CondaProvider, type CondaSemantics } from "./provider";
import {
  type CondaRecord,
  type CondaRecordSource,
  combineSources,
  RepodataRecord,
  recordSource,
} from "./record";
import { type VirtualPackageOptions, virtualPackages } from "./virtual";

export interface CondaSolveInput {
  /**
   * Records per channel, highest priority first (subdir and noarch together): arrays, or
   * sources read by package name.
   */
  channels: readonly (readonly CondaRecord[] | CondaRecordSource)[];
  /** MatchSpec strings that must all hold. */
  specs: string[];
  /** Target subdir, e.g. linux-64 (decides the virtual packages). */
  subdir: string;
  semantics: CondaSemantics;
  channelPriority?: ChannelPriority;
  virtualPackages?: VirtualPackageOptions;
}

export interface CondaSolution {
  /** Chosen records in dependency order (dependencies before dependants), virtual ones left out. */
  records: CondaRecord[];
  stats: SolveStats;
}

/** Solve conda specs over in-memory records. Throws E_UNSATISFIABLE with an explanation. */
export async function solveCondaRecords(input: CondaSolveInput): Promise<CondaSolution> {
  const virtual = virtualPackages(input.subdir, input.virtualPackages);
  const provider = new CondaProvider([...input.channels, virtual], input.semantics, input.channelPriority);
  const roots = input.specs.map((s) => provider.requirement(s));
  const first = await solveCdcl(provider, roots, { rootsFirst: true });
  const out = first.ok ? await improve(provider, roots, first) : first;
  if (!out.ok) {
    const all = provider.explain(out.core);
    const explanation =
      all.length > 40 ? [...all.slice(0, 40), `… and ${all.length - 40} more statements`] : all;
    throw new ResolverError(
      ResolverErrorCode.UNSATISFIABLE,
      `cannot satisfy ${input.specs.join(", ")} for ${input.subdir}:\n  ${explanation.join("\n  ")}`,
      { explanation },
    );
  }
  const chosen = out.solvables
    .map((s) => provider.records[s] as CondaRecord)
    .filter((r) => r.channel !== "@virtual");
  return { records: topoOrder(chosen, provider), stats: out.stats };
}

type Solved = Extract<SolveOutcome, { ok: true }>;

/**
 * conda's objective, applied to a first solution: it ranks solutions by (1) the versions of the
 * requested packages, (2) the number of packages with track_features, (3) the build numbers of
 * the requested packages, then the rest. The first solution takes each package's best candidate
 * in decision order, which is usually optimal; where it is not, each step below solves again
 * with bounds taken from the current solution (every requested package no older than now, no
 * track_features package that is not already chosen, ...) and keeps any solution found. Each
 * step only runs when the current solution leaves room for it, so an optimal first solution
 * costs no second solve. Requested versions improve one package at a time (never making
 * another requested package older), which reaches conda's optimum unless two requested
 * packages trade versions against each other.
 */
async function improve(provider: CondaProvider, roots: number[], first: Solved): Promise<Solved> {
  let best = first;
  const stats = { ...first.stats };
  let chosen = new Map<number, number>();
  const adopt = (out: Solved) => {
    best = out;
    chosen = new Map(out.solvables.map((s) => [provider.nameOf(s), s]));
  };
  adopt(first);
  const attempt = async (allow: (s: number) => boolean): Promise<boolean> => {
    const out = await solveCdcl(provider, roots, { rootsFirst: true, allow });
    stats.decisions += out.stats.decisions;
    stats.conflicts += out.stats.conflicts;
    stats.clauses += out.stats.clauses;
    stats.propagations += out.stats.propagations;
    if (out.ok) adopt(out);
    return out.ok;
  };
  const rank = (s: number) => provider.versionRankOf(s);
  const hasTf = (s: number) => (provider.records[s] as CondaRecord).trackFeatures.length > 0;
  const buildOf = (s: number) => (provider.records[s] as CondaRecord).buildNumber;
  const rootNames = roots.map((r) => provider.requirementName(r));
  /** Requested names -> the version rank each must not fall below. */
  const held = () => {
    const m = new Map<number, number>();
    for (const n of rootNames) {
      const s = chosen.get(n);
      if (s !== undefined) m.set(n, rank(s));
    }
    return m;
  };

  // 1. requested versions: conda minimises the sum of their version ranks. First without
  // making any other requested package older; failing that, letting the others move, kept only
  // when the sum goes down.
  const sumOf = (out: Solved) => {
    const m = new Map(out.solvables.map((s) => [provider.nameOf(s), s]));
    let sum = 0;
    for (const n of rootNames) {
      const s = m.get(n);
      if (s !== undefined) sum += rank(s);
    }
    return sum;
  };
  const newest = roots.map((r) => {
    let n = Number.POSITIVE_INFINITY;
    for (const c of provider.candidates(r)) n = Math.min(n, rank(c));
    return n;
  });
  for (let round = 0, improved = true; improved && round < 3; round++) {
    improved = false;
    for (let i = 0; i < roots.length; i++) {
      const name = rootNames[i] as number;
      for (;;) {
        const cur = chosen.get(name);
        if (cur === undefined) break;
        const now = rank(cur);
        if (now <= (newest[i] as number)) break;
        const hold = held();
        const ok = await attempt((s) => {
          const n = provider.nameOf(s);
          const h = hold.get(n);
          return h === undefined || (n === name ? rank(s) < now : rank(s) <= h);
        });
        if (ok) {
          improved = true;
          continue;
        }
        const before = sumOf(best);
        const kept = best;
        const freed = await attempt((s) => provider.nameOf(s) !== name || rank(s) < now);
        if (freed && sumOf(best) < before) {
          improved = true;
          continue;
        }
        if (freed) adopt(kept);
        break;
      }
    }
  }

  // 2. as few packages with track_features as possible (requested versions kept)
  const withTf = () => best.solvables.filter(hasTf);
  if (withTf().length > 0) {
    const hold = held();
    const keep = (s: number) => {
      const h = hold.get(provider.nameOf(s));
      return h === undefined || rank(s) <= h;
    };
    if (!(await attempt((s) => keep(s) && !hasTf(s)))) {
      for (const t of withTf()) {
        const current = new Set(withTf());
        if (!current.has(t)) continue;
        await attempt((s) => keep(s) && (!hasTf(s) || (current.has(s) && s !== t)));
      }
    }
  }

  // 3. requested build numbers (versions and track_features kept)
  for (let i = 0; i < roots.length; i++) {
    const name = rootNames[i] as number;
    const cur = chosen.get(name);
    if (cur === undefined) continue;
    const now = rank(cur);
    const bn = buildOf(cur);
    const tfNow = new Set(best.solvables.filter(hasTf));
    const higher = provider
      .candidates(roots[i] as number)
      .some((c) => rank(c) === now && buildOf(c) > bn && (!hasTf(c) || tfNow.has(c)));
    if (!higher) continue;
    const hold = new Map(rootNames.map((n) => [n, chosen.get(n) as number]));
    await attempt((s) => {
      if (hasTf(s) && !tfNow.has(s)) return false;
      const n = provider.nameOf(s);
      const h = hold.get(n);
      if (h === undefined) return true;
      if (rank(s) !== rank(h)) return false;
      return n === name ? buildOf(s) > bn : buildOf(s) >= buildOf(h);
    });
  }
  return { ...best, stats };
}

/**
 * Fetch `subdir` + `noarch` of every channel, then solve. With `currentRepodata`, conda's
 * `current_repodata.json` (latest versions only) is tried first where a channel has it, and
 * the full repodata is used when that solve fails.
 */
export async function solveConda(
  options: Omit<CondaSolveInput, "channels"> & { channels: CondaChannel[]; currentRepodata?: boolean },
): Promise<CondaSolution> {
  // Response bodies come from a pool of spare buffers and go back to it when the solve is
  // over: the records returned are detached from them first (nothing else outlives the solve).
  const bodies = new BodyPool();
  const load = (current: boolean) =>
    Promise.all(
      options.channels.map(async (ch) => {
        const read = async (subdir: string, opts?: { current: true }) => {
          if (ch.source) return ch.source(subdir, { ...opts, alloc: bodies.take });
          const records = await ch.records(subdir, opts);
          return records ? recordSource(records) : null;
        };
        const get = async (subdir: string): Promise<CondaRecordSource> =>
          (current ? await read(subdir, { current: true }) : null) ??
          (await read(subdir)) ??
          recordSource([]);
        const [a, b] = await Promise.all([get(options.subdir), get("noarch")]);
        return combineSources([a, b]);
      }),
    );
  const { currentRepodata, ...rest } = options;
  const detached = (solution: CondaSolution) => {
    for (const r of solution.records) if (r instanceof RepodataRecord) r.detach();
    return solution;
  };
  try {
    if (currentRepodata) {
      try {
        return detached(await solveCondaRecords({ ...rest, channels: await load(true) }));
      } catch (e) {
        if (!(e instanceof ResolverError && e.code === ResolverErrorCode.UNSATISFIABLE)) throw e;
      }
    }
    return detached(await solveCondaRecords({ ...rest, channels: await load(false) }));
  } finally {
    bodies.release();
  }
}

/** Spare response buffers, reused by later solves: at most 4, 32 MiB in all. */
const spareBodies: Buffer[] = [];
const SPARE_BODIES = 4;
const SPARE_BYTES = 32 * 1024 * 1024;

/** The buffers one solve took from the spares; `release` gives them back. */
class BodyPool {
  readonly #taken: Buffer[] = [];
  readonly take = (size: number): Buffer => {
    const at = spareBodies.findIndex((b) => b.length >= size);
    // a little headroom, so that a slightly larger repodata next time still fits
    const buf =
      at >= 0 ? (spareBodies.splice(at, 1)[0] as Buffer) : Buffer.allocUnsafe(Math.ceil(size * 1.05));
    this.#taken.push(buf);
    return buf.subarray(0, size);
  };
  release(): void {
    let kept = spareBodies.reduce((n, b) => n + b.length, 0);
    for (const b of this.#taken.splice(0)) {
      if (spareBodies.length < SPARE_BODIES && kept + b.length <= SPARE_BYTES) {
        spareBodies.push(b);
        kept += b.length;
      }
    }
  }
}

function topoOrder(records: CondaRecord[], provider: CondaProvider): CondaRecord[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  const out: CondaRecord[] = [];
  const state = new Map<string, number>();
  const visit = (r: CondaRecord) => {
    if (state.get(r.name)) return;
    state.set(r.name, 1);
    for (const d of r.depends) {
      const name = provider.records[provider.candidates(provider.requirement(d))[0] ?? -1]?.name;
      const dep = name ? byName.get(name) : undefined;
      if (dep) visit(dep);
    }
    out.push(r);
  };
  for (const r of [...records].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) visit(r);
  return out;
}
