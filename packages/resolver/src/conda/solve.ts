import { ResolverError, ResolverErrorCode } from "../errors";
import { type SolveStats, solveCdcl } from "../solver/cdcl";
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
  const out = await solveCdcl(provider, roots);
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
