import { canonicalizeName, SpecifierSet, Version } from "@mlenv/core";
import { type ClauseOrigin, type Dependencies, type DependencyProvider, groupOneOf } from "../solver/cdcl";
import type { DistFile } from "./index";

/** A parsed PEP 508 requirement, as far as the resolver needs it. */
export interface ParsedRequirement {
  name: string;
  extras: string[];
  /** Specifier set text, e.g. `>=1.0,<2`. */
  specifier: string;
  url: string | null;
  /** Marker evaluation for an environment (null = always). */
  marker: { evaluate(env: Record<string, string>): boolean } | null;
}

/** Requirement parsing (from @mlenv/core's packaging module). */
export interface PipSemantics {
  parseRequirement(text: string): ParsedRequirement;
}

/** One release of a project as the resolver sees it. */
export interface PipRelease {
  version: string;
  /** Whether every file of the release is yanked. */
  yanked: boolean;
  requiresPython?: string;
  /** Installable artifact for the target (best wheel, else sdist), or null when none fits. */
  artifact: DistFile | null;
}

/** Where releases and their dependencies come from (an index, or in-memory scenarios). */
export interface PipCandidateSource {
  releases(project: string): Promise<PipRelease[] | null>;
  /** Requires-Dist lines and Requires-Python of a release. */
  metadata(
    project: string,
    release: PipRelease,
  ): Promise<{ requiresDist: string[]; requiresPython?: string }>;
}

export interface PipPolicy {
  /** Marker environment of the target. */
  env: Record<string, string>;
  /**
   * Universal (forking) resolution, like `uv lock`: the marker environments of the current fork
   * (instead of `env`). A requirement applies when its marker holds in at least one of them,
   * Requires-Python must hold in all of them, and only sibling requirements on one name with
   * disjoint markers split the fork ({@link ForkNeeded}); requirements from different parents
   * are never forked on, so they must agree.
   */
  fork?: Record<string, string>[];
  /** `if-necessary` (default): stable versions first, pre-releases only as fallback; `allow`: newest first. */
  prereleases?: "if-necessary" | "allow";
  /** Treat Requires-Python upper bounds as absent (uv does; pip does not). Default false. */
  ignoreRequiresPythonUpperBound?: boolean;
  /** Projects already provided (e.g. by conda): name → version; they are not resolved again. */
  provided?: Record<string, string>;
  /** `highest` (default), `lowest` (every package), `lowest-direct` (root requirements only). */
  resolution?: "highest" | "lowest" | "lowest-direct";
  /** Names of the root requirements (for `lowest-direct`). */
  direct?: string[];
}

interface Pkg {
  key: string; // name or name[extra]
  name: string;
  extra: string | null;
  releases: PipRelease[]; // preference order
  ids: number[];
}

interface Req {
  key: string;
  name: string;
  extra: string | null;
  spec: SpecifierSet;
  text: string;
  /** exact version of a root `==V` (allows a yanked V) */
  allowYanked: string | null;
  /** exact solvable (an extra's link to its base package) */
  exact?: number;
}

/**
 * Thrown by {@link PipProvider} in universal mode when one package's requirements on one name
 * have disjoint markers within the fork: `parts` partition the fork's environments (indices
 * into `PipPolicy.fork`), each to be resolved on its own.
 */
export class ForkNeeded extends Error {
  constructor(
    readonly project: string,
    readonly parts: number[][],
  ) {
    super(`fork on ${project} into ${parts.length} parts`);
  }
}

/** The PEP 685 form of an extra name. */
export const normalizeExtra = (e: string) => e.toLowerCase().replace(/[-_.]+/g, "-");

/** Solver view of pip projects; releases and metadata load lazily. */
export class PipProvider implements DependencyProvider {
  readonly solvables: { pkg: Pkg; release: PipRelease }[] = [];
  private readonly pkgs = new Map<string, Promise<Pkg>>();
  private readonly pkgList: Pkg[] = [];
  private readonly pkgIds = new Map<string, number>();
  private readonly reqs: Req[] = [];
  private readonly reqIds = new Map<string, number>();
  private readonly candCache: (number[] | undefined)[] = [];
  private readonly envs: Record<string, string>[];
  private readonly pythonVersions: Version[];
  /** Versions a root `==V` pin allows although yanked (uv's AllowedYanks): name → versions. */
  private readonly allowedYanks = new Map<string, Version[]>();
  /** Errors met while loading metadata (a release with unreadable metadata is unusable). */
  readonly problems: string[] = [];
  /** Metadata of a release (name\0version), asked once: by the solver or ahead of it. */
  private readonly metadataMemo = new Map<
    string,
    Promise<{ requiresDist: string[]; requiresPython?: string }>
  >();

  constructor(
    private readonly source: PipCandidateSource,
    private readonly semantics: PipSemantics,
    private readonly policy: PipPolicy,
  ) {
    this.envs = policy.fork?.length ? policy.fork : [policy.env];
    this.pythonVersions = this.envs.map((e) => Version.parse(e.python_full_version ?? "3.12.0"));
  }

  /** Indices of the fork's environments where a requirement line applies. */
  private appliesIn(r: ParsedRequirement, extra: string | null): number[] {
    const out: number[] = [];
    this.envs.forEach((env, i) => {
      if (r.marker) {
        if (!r.marker.evaluate({ ...env, extra: extra ?? "" })) return;
        // base deps (true without the extra) are the base package's business
        if (extra && r.marker.evaluate({ ...env, extra: "" })) return;
      } else if (extra) return;
      out.push(i);
    });
    return out;
  }

  /**
   * uv's fork rule: requirements on one name (siblings of one package) whose markers are
   * disjoint within the fork split it into the groups of overlapping markers, plus the rest.
   */
  private checkFork(lines: { name: string; envs: number[] }[]): void {
    if (this.envs.length < 2) return;
    const byName = new Map<string, number[][]>();
    for (const l of lines) byName.set(l.name, [...(byName.get(l.name) ?? []), l.envs]);
    for (const [name, sets] of byName) {
      if (sets.length < 2) continue;
      // merge overlapping environment sets into groups
      const groups: Set<number>[] = [];
      for (const set of sets) {
        const merged = new Set(set);
        for (let g = groups.length - 1; g >= 0; g--) {
          const group = groups[g] as Set<number>;
          if (set.some((i) => group.has(i))) {
            for (const i of group) merged.add(i);
            groups.splice(g, 1);
          }
        }
        groups.push(merged);
      }
      if (groups.length < 2) continue;
      const parts = groups.map((g) => [...g].sort((a, b) => a - b));
      const rest = this.envs.map((_, i) => i).filter((i) => !groups.some((g) => g.has(i)));
      if (rest.length) parts.push(rest);
      throw new ForkNeeded(name, parts);
    }
  }

  private pythonOk(requiresPython: string | undefined): boolean {
    if (!requiresPython) return true;
    let text = requiresPython;
    if (this.policy.ignoreRequiresPythonUpperBound) {
      text = text
        .split(",")
        .filter((s) => !/^\s*(<|<=)/.test(s))
        .join(",");
    }
    try {
      const spec = new SpecifierSet(text);
      return this.pythonVersions.every((v) => spec.contains(v, { prereleases: true }));
    } catch {
      return false;
    }
  }

  private loadPkg(key: string, name: string, extra: string | null): Promise<Pkg> {
    let p = this.pkgs.get(key);
    if (!p) {
      p = (async () => {
        const provided = this.policy.provided?.[name];
        let releases: PipRelease[];
        if (provided !== undefined) {
          releases = [{ version: provided, yanked: false, artifact: null }];
        } else {
          releases = ((await this.source.releases(name)) ?? []).filter(
            (r) =>
              r.artifact !== null && Version.tryParse(r.version) !== null && this.pythonOk(r.requiresPython),
          );
          const allow = this.policy.prereleases === "allow";
          const res = this.policy.resolution ?? "highest";
          const lowest =
            res === "lowest" || (res === "lowest-direct" && (this.policy.direct ?? []).includes(name));
          const vs = new Map(releases.map((r) => [r, Version.parse(r.version)]));
          releases.sort((a, b) => {
            const va = vs.get(a) as Version;
            const vb = vs.get(b) as Version;
            if (!allow && va.isPrerelease !== vb.isPrerelease) return va.isPrerelease ? 1 : -1;
            return lowest ? va.compare(vb) : vb.compare(va);
          });
        }
        const pkg: Pkg = { key, name, extra, releases, ids: [] };
        for (const release of releases) {
          pkg.ids.push(this.solvables.length);
          this.solvables.push({ pkg, release });
        }
        this.pkgIds.set(key, this.pkgList.length);
        this.pkgList.push(pkg);
        return pkg;
      })();
      this.pkgs.set(key, p);
    }
    return p;
  }

  /** The metadata of a solvable's release, fetched once (an extra shares its base package's). */
  private metadataOf(s: number): Promise<{ requiresDist: string[]; requiresPython?: string }> {
    const { pkg, release } = this.solvables[s] as { pkg: Pkg; release: PipRelease };
    const key = `${pkg.name}\0${release.version}`;
    let p = this.metadataMemo.get(key);
    if (!p) {
      p = this.source.metadata(pkg.name, release);
      p.catch(() => undefined); // a prefetch nobody awaits must not be an unhandled rejection
      this.metadataMemo.set(key, p);
    }
    return p;
  }

  /**
   * Start loading what the solver asks for next, concurrently: each requirement's project page,
   * then the metadata of its preferred candidate (the one the solver decides first). Results
   * and errors land in the caches the solver reads, so the resolution does not change.
   */
  private prefetch(requirements: number[]): void {
    for (const id of requirements) {
      const r = this.reqs[id];
      if (!r || r.exact !== undefined) continue;
      this.candidates(id).then(
        (c) => {
          const s = c[0];
          if (s !== undefined && this.policy.provided?.[r.name] === undefined) this.metadataOf(s);
        },
        () => undefined,
      );
    }
  }

  /** Intern a requirement on `name` (or `name[extra]`) with a specifier. */
  requirement(name: string, extra: string | null, specifier: string, root = false): number {
    const n = canonicalizeName(name);
    const key = extra ? `${n}[${extra}]` : n;
    const spec = new SpecifierSet(specifier);
    const specs = [...spec];
    const exact =
      root && specs.length === 1 && (specs[0]?.operator === "==" || specs[0]?.operator === "===")
        ? (specs[0]?.version ?? null)
        : null;
    if (exact !== null) {
      const v = Version.tryParse(exact);
      if (v) this.allowedYanks.set(n, [...(this.allowedYanks.get(n) ?? []), v]);
    }
    const id0 = `${key}\0${spec.toString()}\0${exact ?? ""}`;
    const got = this.reqIds.get(id0);
    if (got !== undefined) return got;
    const id = this.reqs.length;
    this.reqs.push({ key, name: n, extra, spec, text: `${key}${spec.toString()}`, allowYanked: exact });
    this.reqIds.set(id0, id);
    return id;
  }

  /** Root requirement ids for a PEP 508 string (base + one per extra); [] when its marker is false. */
  rootRequirements(text: string): number[] {
    return this.rootRequirementsOf([text]);
  }

  /**
   * Root requirement ids for the root's PEP 508 strings; in universal mode throws
   * {@link ForkNeeded} when requirements on one name have disjoint markers.
   */
  rootRequirementsOf(texts: string[]): number[] {
    const out: number[] = [];
    const lines: { name: string; envs: number[] }[] = [];
    for (const text of texts) {
      const r = this.semantics.parseRequirement(text);
      const envs = this.appliesIn(r, null);
      if (envs.length === 0) continue;
      lines.push({ name: canonicalizeName(r.name), envs });
      out.push(this.requirement(r.name, null, r.specifier, true));
      for (const e of r.extras) out.push(this.requirement(r.name, normalizeExtra(e), r.specifier, true));
    }
    this.checkFork(lines);
    this.prefetch(out);
    return out;
  }

  nameOf(solvable: number): number {
    return this.pkgIds.get((this.solvables[solvable] as { pkg: Pkg }).pkg.key) as number;
  }

  solvablesOfName(name: number): readonly number[] {
    return this.pkgList[name]?.ids ?? [];
  }

  async candidates(requirement: number): Promise<readonly number[]> {
    const got = this.candCache[requirement];
    if (got) return got;
    const r = this.reqs[requirement] as Req;
    if (r.exact !== undefined) return [r.exact];
    const pkg = await this.loadPkg(r.key, r.name, r.extra);
    const out: number[] = [];
    for (const s of pkg.ids) {
      const rel = (this.solvables[s] as { release: PipRelease }).release;
      if (rel.yanked) {
        const v = Version.parse(rel.version);
        if (!(this.allowedYanks.get(r.name) ?? []).some((a) => a.equals(v))) continue;
      }
      if (r.spec.contains(rel.version, { prereleases: true })) out.push(s);
    }
    this.candCache[requirement] = out;
    return out;
  }

  async dependencies(solvable: number): Promise<Dependencies> {
    const { pkg, release } = this.solvables[solvable] as { pkg: Pkg; release: PipRelease };
    const requires: number[] = [];
    if (pkg.extra) {
      // an extra is a virtual package pinned to its base package's same version
      const base = await this.loadPkg(pkg.name, pkg.name, null);
      const same = base.ids.find((s) => this.solvables[s]?.release.version === release.version);
      const id = this.reqs.length;
      this.reqs.push({
        key: pkg.name,
        name: pkg.name,
        extra: null,
        spec: new SpecifierSet(`==${release.version}`),
        text: `${pkg.name}==${release.version}`,
        allowYanked: null,
        ...(same === undefined ? {} : { exact: same }),
      });
      if (same === undefined) this.candCache[id] = [];
      requires.push(id);
    }
    if (this.policy.provided?.[pkg.name] !== undefined) return { requires, constrains: [] };
    let meta: { requiresDist: string[]; requiresPython?: string };
    try {
      meta = await this.metadataOf(solvable);
    } catch (e) {
      this.problems.push(`${pkg.name} ${release.version}: ${(e as Error).message}`);
      // unusable: require something that cannot exist
      const id = this.reqs.length;
      this.reqs.push({
        key: `${pkg.name}!`,
        name: pkg.name,
        extra: null,
        spec: new SpecifierSet(),
        text: `${pkg.name} metadata`,
        allowYanked: null,
      });
      this.candCache[id] = [];
      return { requires: [id], constrains: [] };
    }
    if (!this.pythonOk(meta.requiresPython)) {
      const id = this.reqs.length;
      this.reqs.push({
        key: "python",
        name: "python",
        extra: null,
        spec: new SpecifierSet(),
        text: `python${meta.requiresPython}`,
        allowYanked: null,
      });
      this.candCache[id] = [];
      return { requires: [id], constrains: [] };
    }
    const lines: { name: string; envs: number[] }[] = [];
    for (const line of meta.requiresDist) {
      let r: ParsedRequirement;
      try {
        r = this.semantics.parseRequirement(line);
      } catch (e) {
        this.problems.push(
          `${pkg.name} ${release.version}: bad Requires-Dist ${line}: ${(e as Error).message}`,
        );
        continue;
      }
      const envs = this.appliesIn(r, pkg.extra);
      if (envs.length === 0) continue;
      if (canonicalizeName(r.name) === pkg.name && r.extras.length === 0) continue;
      lines.push({ name: canonicalizeName(r.name), envs });
      if (!(canonicalizeName(r.name) === pkg.name && !pkg.extra))
        requires.push(this.requirement(r.name, null, r.specifier));
      for (const e of r.extras) {
        const ex = normalizeExtra(e);
        if (canonicalizeName(r.name) === pkg.name && ex === pkg.extra) continue;
        requires.push(this.requirement(r.name, ex, r.specifier));
      }
    }
    this.checkFork(lines);
    this.prefetch(requires);
    return { requires, constrains: [] };
  }

  label(s: number): string {
    const x = this.solvables[s];
    return x ? `${x.pkg.key}==${x.release.version}` : "?";
  }

  textOf(requirement: number): string {
    return this.reqs[requirement]?.text ?? "?";
  }

  explain(core: ClauseOrigin[]): string[] {
    const lines: string[] = [];
    for (const o of core) {
      if (o.kind === "root") {
        const n = this.candCache[o.requirement]?.length ?? 0;
        lines.push(
          n === 0
            ? `you asked for ${this.textOf(o.requirement)}, but no usable version matches it`
            : `you asked for ${this.textOf(o.requirement)}`,
        );
      } else if (o.kind === "requires") {
        const n = this.candCache[o.requirement]?.length ?? 0;
        lines.push(
          `${this.label(o.solvable)} requires ${this.textOf(o.requirement)}${n === 0 ? ", which no usable version satisfies" : ""}`,
        );
      }
    }
    const oneOf = groupOneOf(
      core,
      (v) => this.solvables[v]?.pkg.key ?? "?",
      (v) => this.label(v),
    );
    for (const [key, list] of oneOf)
      lines.push(`only one version of ${key} can be installed: ${list.slice(0, 6).join(", ")}`);
    return lines;
  }
}
