import { memoize } from "../internal/memo";
import { PackagingError, PackagingErrorCode } from "./errors";
import { type ContainsOptions, cachedVersion, filterWith, Specifier } from "./specifier";
import { Version, type VersionParts } from "./version";

const parseSpecifiers = memoize(20_000, (text: string): Specifier[] => {
  const byCanonical = new Map<string, Specifier>();
  for (const raw of text.split(",")) {
    const part = raw.trim();
    if (part === "") continue;
    const s = new Specifier(part);
    byCanonical.delete(s.canonical);
    byCanonical.set(s.canonical, s);
  }
  return [...byCanonical.values()];
});

/**
 * A comma-separated set of PEP 440 specifiers (`>=1.0,!=1.3.*,<2`), all of which must match.
 * pypa packaging 26.x semantics, including the pre-release policy.
 */
export class SpecifierSet implements Iterable<Specifier> {
  private readonly specs: readonly Specifier[];
  private explicitPre: boolean | null;
  private text: string | undefined;

  constructor(specifiers: string | Iterable<Specifier | string> = "", prereleases: boolean | null = null) {
    if (typeof specifiers === "string") {
      // Specifier objects are mutable (policy); give each set its own copies.
      this.specs = parseSpecifiers(specifiers).map((s) => new Specifier(s.toString()));
    } else {
      const byCanonical = new Map<string, Specifier>();
      for (const x of specifiers) {
        const s = typeof x === "string" ? new Specifier(x) : x;
        byCanonical.delete(s.canonical);
        byCanonical.set(s.canonical, s);
      }
      this.specs = [...byCanonical.values()];
    }
    this.explicitPre = prereleases;
  }

  /** Parse a specifier set; throws PackagingError(E_SPECIFIER_INVALID). */
  static parse(text: string, prereleases: boolean | null = null): SpecifierSet {
    return new SpecifierSet(text, prereleases);
  }

  /** Explicit policy, else true if any member names a pre-release, else null (no members) or false. */
  get prereleases(): boolean | null {
    if (this.explicitPre !== null) return this.explicitPre;
    if (this.specs.length === 0) return null;
    return this.specs.some((s) => s.prereleases);
  }

  set prereleases(value: boolean | null) {
    this.explicitPre = value;
  }

  get size(): number {
    return this.specs.length;
  }

  [Symbol.iterator](): Iterator<Specifier> {
    return this.specs[Symbol.iterator]();
  }

  /** Canonical form: members sorted as strings, joined with ",". */
  toString(): string {
    if (this.text === undefined) {
      this.text = this.specs
        .map((s) => s.toString())
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
        .join(",");
    }
    return this.text;
  }

  toJSON(): string {
    return this.toString();
  }

  /** Set equality after canonicalisation (`==1.0` equals `==1.0.0`). */
  equals(other: SpecifierSet | string): boolean {
    const o = typeof other === "string" ? new SpecifierSet(other) : other;
    const a = new Set(this.specs.map((s) => s.canonical));
    const b = new Set(o.specs.map((s) => s.canonical));
    if (a.size !== b.size) return false;
    for (const x of a) if (!b.has(x)) return false;
    return true;
  }

  /** Intersection (`&`). Policies combine: null & X = X; conflicting explicit policies throw. */
  and(other: SpecifierSet | string): SpecifierSet {
    const o = typeof other === "string" ? new SpecifierSet(other) : other;
    let pre: boolean | null;
    if (this.explicitPre === null) pre = o.explicitPre;
    else if (o.explicitPre === null || o.explicitPre === this.explicitPre) pre = this.explicitPre;
    else {
      throw new PackagingError(
        PackagingErrorCode.PRERELEASE_CONFLICT,
        `Expected specifier sets with compatible pre-release policies to combine, e.g. both true, received ${this.explicitPre} and ${o.explicitPre}`,
      );
    }
    return new SpecifierSet([...this.specs, ...o.specs], pre);
  }

  /** Whether every member matches `item`, ignoring the pre-release policy. */
  matches(item: string | Version): boolean {
    for (const s of this.specs) if (!s.matches(item)) return false;
    return true;
  }

  /** PEP 440 membership: pre-releases are accepted unless the policy (argument or set) is false. */
  contains(item: string | Version, options: ContainsOptions = {}): boolean {
    const v = typeof item === "string" ? cachedVersion(item) : item;
    if (v === null) {
      // Only === can match a non-PEP 440 string.
      return this.specs.every((s) => s.operator === "===" && s.matches(item));
    }
    if (!options.installed && v.isPrerelease && (options.prereleases ?? this.explicitPre) === false)
      return false;
    for (const s of this.specs) {
      if (s.operator === "===" ? !s.matches(item) : !s.matchVersion(v)) return false;
    }
    return true;
  }

  /**
   * Keep matching items in input order. With no policy, pre-releases are kept only when no
   * final release matches, unless a member names a pre-release.
   */
  filter<T extends string | Version>(items: Iterable<T>, options: ContainsOptions = {}): T[] {
    const policy =
      options.prereleases ?? this.explicitPre ?? (this.specs.some((s) => s.prereleases) ? true : null);
    return filterWith(
      items,
      policy,
      (item, v) => {
        for (const s of this.specs) {
          if (s.operator === "===" ? !s.matches(item) : v === null || !s.matchVersion(v)) return false;
        }
        return true;
      },
      this.specs.length === 0,
    );
  }

  /** True when no version at all satisfies the set (under its pre-release policy). */
  isUnsatisfiable(): boolean {
    return !candidates([this]).some((c) => this.contains(c));
  }

  /** True when every version in this set is also in `other`. */
  isSubset(other: SpecifierSet | string): boolean {
    const o = typeof other === "string" ? new SpecifierSet(other) : other;
    return !candidates([this, o]).some((c) => this.contains(c) && !o.contains(c));
  }

  isSuperset(other: SpecifierSet | string): boolean {
    const o = typeof other === "string" ? new SpecifierSet(other) : other;
    return o.isSubset(this);
  }

  /** True when no version is in both sets. */
  isDisjoint(other: SpecifierSet | string): boolean {
    const o = typeof other === "string" ? new SpecifierSet(other) : other;
    return !candidates([this, o]).some((c) => this.contains(c) && o.contains(c));
  }

  /** The members (in canonical string order). */
  get specifiers(): readonly Specifier[] {
    return this.specs;
  }
}

/**
 * Every boundary of a specifier set's solution space lies at, or right next to, a version named
 * by one of its members. These are the versions right at and around each such boundary: if a
 * set admits any version at all, it admits one of these.
 */
function candidates(sets: readonly SpecifierSet[]): (string | Version)[] {
  const out = new Map<string, Version>();
  const add = (p: VersionParts): void => {
    try {
      const v = Version.fromParts(p);
      out.set(v.key, v);
    } catch {
      // out of range (negative numbers): skip
    }
  };
  const around = (base: Version, wildcard: boolean): void => {
    const e = base.epoch;
    const r = base.release;
    const releases: number[][] = [[...r], [...r, 0], [...r, 1], [...r, 0, 0, 1]];
    for (let i = 0; i < r.length; i++) {
      const head = r.slice(0, i);
      const x = r[i] as number;
      releases.push([...head, x + 1]);
      if (x > 0) releases.push([...head, x - 1], [...head, x - 1, 999_999]);
    }
    for (const rel of releases) {
      for (const ep of [e, e + 1, Math.max(0, e - 1)]) {
        add({ epoch: ep, release: rel, dev: 0 });
        add({ epoch: ep, release: rel, pre: ["a", 0] });
        add({ epoch: ep, release: rel });
        add({ epoch: ep, release: rel, post: 0 });
        add({ epoch: ep, release: rel, local: "0" });
        add({ epoch: ep, release: rel, post: 0, dev: 0 });
      }
    }
    if (wildcard) return;
    const pre = base.pre;
    const post = base.post;
    const dev = base.dev;
    const parts = { epoch: e, release: r, pre, post, dev };
    add(parts);
    add({ ...parts, local: base.local });
    add({ ...parts, local: "0" });
    add({ ...parts, local: "a" });
    if (dev !== null) {
      add({ ...parts, dev: dev + 1 });
      if (dev > 0) add({ ...parts, dev: dev - 1 });
    }
    add({ ...parts, dev: 0 });
    add({ ...parts, dev: null });
    const nextPost = post === null ? 0 : post + 1;
    add({ epoch: e, release: r, pre, post: nextPost, dev: 0 });
    add({ epoch: e, release: r, pre, post: nextPost });
    add({ epoch: e, release: r, pre, post: nextPost, local: "0" });
    if (post !== null) {
      add({ epoch: e, release: r, pre, post, dev: 0 });
      add({ epoch: e, release: r, pre, post: null, dev: null });
      if (post > 0) add({ epoch: e, release: r, pre, post: post - 1 });
    }
    if (pre !== null) {
      add({ epoch: e, release: r, pre: [pre[0], pre[1] + 1], dev: 0 });
      add({ epoch: e, release: r, pre: [pre[0], pre[1] + 1] });
      add({ epoch: e, release: r, pre, post: 0 });
      if (pre[1] > 0) add({ epoch: e, release: r, pre: [pre[0], pre[1] - 1], post: 999_999 });
      for (const l of ["a", "b", "rc"] as const) {
        add({ epoch: e, release: r, pre: [l, 0], dev: 0 });
        add({ epoch: e, release: r, pre: [l, 0] });
      }
    }
  };
  add({ release: [0], dev: 0 });
  add({ release: [0] });
  add({ release: [999_999] });
  for (const set of sets) {
    for (const s of set) {
      const text = s.version.endsWith(".*") ? s.version.slice(0, -2) : s.version;
      const v = Version.tryParse(text);
      if (v !== null) around(v, s.version.endsWith(".*") || s.operator === "~=");
      if (v !== null && s.operator === "~=") around(v, false);
    }
  }
  const list: (string | Version)[] = [...out.values()];
  // Arbitrary-equality members only ever match their own text.
  for (const set of sets) for (const s of set) if (s.operator === "===") list.push(s.version);
  return list;
}
