import { canonicalizeName, Version } from "@mlenv/core";
import { ResolverError, ResolverErrorCode } from "../errors";
import { type SolveStats, solveCdcl } from "../solver/cdcl";
import type { DistFile, PypiIndex } from "./index";
import { parseCoreMetadata } from "./metadata";
import {
  ForkNeeded,
  type PipCandidateSource,
  PipProvider,
  type PipRelease,
  type PipSemantics,
} from "./provider";
import {
  compatibleTags,
  markerEnvironment,
  type PythonTarget,
  parseSdistFilename,
  parseWheelFilename,
} from "./tags";

export interface IndexSourceOptions {
  /** Projects that must not use wheels (`:all:` for every one). */
  noBinary?: string[];
  /** Projects that must not use sdists (`:all:` for every one). */
  onlyBinary?: string[];
}

/** Releases of an index for a target: each version's best compatible wheel, else its sdist. */
export function indexCandidateSource(
  index: PypiIndex,
  target: PythonTarget,
  options: IndexSourceOptions = {},
): PipCandidateSource {
  const rank = new Map(compatibleTags(target).map((t, i) => [t, i]));
  const has = (list: string[] | undefined, n: string) =>
    !!list && (list.includes(":all:") || list.includes(n));
  return {
    async releases(project) {
      const files = await index.files(project);
      if (files === null) return null;
      const name = canonicalizeName(project);
      const byVersion = new Map<
        string,
        { files: DistFile[]; wheel?: { f: DistFile; r: number }; sdist?: DistFile }
      >();
      for (const f of files) {
        const w = parseWheelFilename(f.filename);
        const sd = w ? null : parseSdistFilename(f.filename);
        const ver = w?.version ?? sd?.version;
        if (!ver) continue;
        const v = Version.tryParse(ver);
        if (!v) continue;
        const key = v.toString();
        let e = byVersion.get(key);
        if (!e) {
          e = { files: [] };
          byVersion.set(key, e);
        }
        e.files.push(f);
        if (f.yanked !== false) continue;
        if (w && !has(options.noBinary, name)) {
          let best = Number.POSITIVE_INFINITY;
          for (const t of w.tags) best = Math.min(best, rank.get(t) ?? Number.POSITIVE_INFINITY);
          if (best < Number.POSITIVE_INFINITY && (!e.wheel || best < e.wheel.r)) e.wheel = { f, r: best };
        } else if (sd && !has(options.onlyBinary, name)) e.sdist = f;
      }
      const out: PipRelease[] = [];
      for (const [version, e] of byVersion) {
        const allYanked = e.files.every((f) => f.yanked !== false);
        let artifact = e.wheel?.f ?? e.sdist ?? null;
        if (allYanked) {
          // a yanked release stays visible (an exact root pin may still select it)
          for (const f of e.files) {
            const w = parseWheelFilename(f.filename);
            if (w?.tags.some((t) => rank.has(t)) && !has(options.noBinary, name)) artifact = f;
            else if (!w && !artifact && !has(options.onlyBinary, name)) artifact = f;
          }
        }
        const rel: PipRelease = { version, yanked: allYanked, artifact };
        if (artifact?.requiresPython) rel.requiresPython = artifact.requiresPython;
        out.push(rel);
      }
      return out;
    },
    async metadata(_project, release) {
      const f = release.artifact;
      if (!f?.filename.endsWith(".whl")) {
        throw new ResolverError(
          ResolverErrorCode.METADATA_INVALID,
          `${f?.filename ?? _project}: metadata of a source distribution needs a build; expected a wheel`,
        );
      }
      const m = parseCoreMetadata(await index.metadata(f), f.url);
      return m.requiresPython === undefined
        ? { requiresDist: m.requiresDist }
        : { requiresDist: m.requiresDist, requiresPython: m.requiresPython };
    },
  };
}

export interface PipResolveOptions {
  /** PEP 508 requirement strings. */
  requirements: string[];
  source: PipCandidateSource;
  target: PythonTarget;
  semantics: PipSemantics;
  prereleases?: "if-necessary" | "allow";
  ignoreRequiresPythonUpperBound?: boolean;
  /** Already installed by conda: name → version. Not reinstalled. */
  provided?: Record<string, string>;
  resolution?: "highest" | "lowest" | "lowest-direct";
  /** Marker variables to override (e.g. `{ sys_platform: "os2" }`) on top of the target's. */
  environment?: Record<string, string>;
}

export interface PipResolution {
  packages: { name: string; version: string; artifact: DistFile | null; requires: string[] }[];
  stats: SolveStats;
}

/** Resolve pip requirements for a target Python. Throws E_UNSATISFIABLE with an explanation. */
export async function resolvePip(options: PipResolveOptions): Promise<PipResolution> {
  const env = { ...markerEnvironment(options.target), ...options.environment };
  return solveFor(options, env, undefined, `Python ${env.python_full_version} on ${options.target.platform}`);
}

export interface PipUniversalOptions extends Omit<PipResolveOptions, "target" | "environment"> {
  /** The environments the resolution must cover: targets, each with optional marker overrides. */
  environments: { target: PythonTarget; environment?: Record<string, string> }[];
}

export interface PipUniversalResolution {
  /** One resolution per fork, with the marker environments it covers (together: all of them). */
  forks: { environments: Record<string, string>[]; packages: PipResolution["packages"] }[];
  stats: SolveStats;
}

/**
 * Universal resolution like `uv lock`: one resolution for all `environments`, forked only where
 * one package (or the root) has requirements on the same name with disjoint markers. Markers of
 * requirements from different parents do not fork: such a requirement applies to the whole fork
 * when it holds in any of its environments, so `a -> c<2 ; sys_platform == 'linux'` and
 * `b -> c>=2 ; sys_platform == 'darwin'` conflict. Requires-Python must hold in every
 * environment of a fork. Throws E_UNSATISFIABLE when any fork has no resolution.
 */
export async function resolvePipUniversal(options: PipUniversalOptions): Promise<PipUniversalResolution> {
  const envs = options.environments.map((e) => ({ ...markerEnvironment(e.target), ...e.environment }));
  if (envs.length === 0) {
    throw new ResolverError(
      ResolverErrorCode.SPEC_INVALID,
      "universal resolution needs at least one environment, e.g. { target: { python: '3.12', platform: 'linux-64' } }; received none",
    );
  }
  const stats: SolveStats = { decisions: 0, conflicts: 0, clauses: 0, propagations: 0 };
  const forks: PipUniversalResolution["forks"] = [];
  const queue = initialForks(options, envs);
  while (queue.length) {
    const ids = queue.shift() as number[];
    const fork = ids.map((i) => envs[i] as Record<string, string>);
    const where = `${fork.length} environment${fork.length === 1 ? "" : "s"} (${describeFork(fork)})`;
    try {
      const out = await solveFor(options, fork[0] as Record<string, string>, fork, where);
      for (const k of Object.keys(stats) as (keyof SolveStats)[]) stats[k] += out.stats[k];
      forks.push({ environments: fork, packages: out.packages });
    } catch (e) {
      if (!(e instanceof ForkNeeded)) throw e;
      // every part is a strict subset of the fork, so this terminates
      for (const part of e.parts) queue.push(part.map((i) => ids[i] as number));
    }
  }
  return { forks, stats };
}

/**
 * The forks a universal resolution starts from: one, except under `lowest-direct`, where (like
 * uv) the environments are split by the markers of the root requirements, so that a package is
 * direct (and resolved to its lowest version) exactly where a root requirement names it.
 */
function initialForks(options: PipUniversalOptions, envs: Record<string, string>[]): number[][] {
  const all = envs.map((_, i) => i);
  if (options.resolution !== "lowest-direct") return [all];
  const markers = options.requirements.flatMap((t) => options.semantics.parseRequirement(t).marker ?? []);
  const bySignature = new Map<string, number[]>();
  for (const i of all) {
    const env = { ...(envs[i] as Record<string, string>), extra: "" };
    const sig = markers.map((m) => (m.evaluate(env) ? "1" : "0")).join("");
    bySignature.set(sig, [...(bySignature.get(sig) ?? []), i]);
  }
  return [...bySignature.values()];
}

function describeFork(fork: Record<string, string>[]): string {
  const vals = (k: string) => [...new Set(fork.map((e) => e[k]))].join("|");
  return `sys_platform ${vals("sys_platform")}, python ${vals("python_full_version")}`.slice(0, 200);
}

async function solveFor(
  options: Omit<PipResolveOptions, "target" | "environment">,
  env: Record<string, string>,
  fork: Record<string, string>[] | undefined,
  where: string,
): Promise<PipResolution> {
  const provided: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.provided ?? {})) provided[canonicalizeName(k)] = v;
  const requiresSeen = new Map<string, string[]>();
  const source: PipCandidateSource = {
    releases: (p) => options.source.releases(p),
    async metadata(p, r) {
      const m = await options.source.metadata(p, r);
      requiresSeen.set(`${p}\0${r.version}`, m.requiresDist);
      return m;
    },
  };
  const inFork = (r: ReturnType<PipSemantics["parseRequirement"]>) =>
    !r.marker || (fork ?? [env]).some((e) => r.marker?.evaluate({ ...e, extra: "" }));
  const provider = new PipProvider(source, options.semantics, {
    env,
    ...(fork ? { fork } : {}),
    prereleases: options.prereleases ?? "if-necessary",
    ignoreRequiresPythonUpperBound: options.ignoreRequiresPythonUpperBound ?? false,
    provided,
    resolution: options.resolution ?? "highest",
    direct: options.requirements.flatMap((text) => {
      const r = options.semantics.parseRequirement(text);
      return inFork(r) ? [canonicalizeName(r.name)] : [];
    }),
  });
  const roots = provider.rootRequirementsOf(options.requirements);
  // like uv: a package whose candidates keep getting rejected by earlier decisions goes first
  const out = await solveCdcl(provider, roots, { prioritizeAfterRejections: 5 });
  if (!out.ok) {
    const explanation = provider.explain(out.core).concat(provider.problems.slice(0, 10));
    throw new ResolverError(
      ResolverErrorCode.UNSATISFIABLE,
      `cannot resolve ${options.requirements.join(", ")} for ${where}:\n  ${explanation.join("\n  ")}`,
      { explanation },
    );
  }
  const packages: PipResolution["packages"] = [];
  for (const s of out.solvables) {
    const x = provider.solvables[s];
    if (!x || x.pkg.extra || provided[x.pkg.name] !== undefined) continue;
    packages.push({
      name: x.pkg.name,
      version: x.release.version,
      artifact: x.release.artifact,
      requires: requiresSeen.get(`${x.pkg.name}\0${x.release.version}`) ?? [],
    });
  }
  packages.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { packages, stats: out.stats };
}
