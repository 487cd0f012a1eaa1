import { memoize } from "../internal/memo";
import { PackagingError, PackagingErrorCode, received } from "./errors";
import { Version } from "./version";

/** A PEP 440 comparison operator. */
export type SpecifierOperator = "~=" | "==" | "!=" | "<=" | ">=" | "<" | ">" | "===";

/** Per-call options of contains/filter: `prereleases` overrides the specifier's policy. */
export interface ContainsOptions {
  prereleases?: boolean | null;
  /** pip's "already installed" flag: a pre-release is judged by its base version. */
  installed?: boolean;
}

const OP_RE = /^(~=|===|==|!=|<=|>=|<|>)\s*([\s\S]*)$/;
const WILDCARD_RE = /^v?(?:\d+!)?\d+(?:\.\d+)*\.\*$/i;
const ARBITRARY_RE = /^[^\s;)]+$/;
const TRIM_RE = /^\s+|\s+$/g;

/** Parse a version, caching results (the resolver asks about the same strings often). */
export const cachedVersion: (s: string) => Version | null = memoize(50_000, Version.tryParse);

function coerce(item: string | Version): Version | null {
  return typeof item === "string" ? cachedVersion(item) : item;
}

/** `canonicalize_version`: normalised, trailing release zeros dropped (optionally). */
export function canonicalizeVersion(v: Version, stripTrailingZero = true): string {
  if (!stripTrailingZero) return v.toString();
  const release = [...v.release];
  while (release.length > 1 && release[release.length - 1] === 0) release.pop();
  let s = v.epoch === 0 ? "" : `${v.epoch}!`;
  s += release.join(".");
  if (v.pre !== null) s += v.pre[0] + v.pre[1];
  if (v.post !== null) s += `.post${v.post}`;
  if (v.dev !== null) s += `.dev${v.dev}`;
  if (v.local !== null) s += `+${v.local}`;
  return s;
}

function invalid(spec: string): PackagingError {
  return new PackagingError(
    PackagingErrorCode.SPECIFIER_INVALID,
    `Expected a PEP 440 specifier such as ">=1.2", "==2.0.*" or "~=3.1", received ${received(spec)}`,
  );
}

/** A single PEP 440 version specifier (`>=1.0`), pypa packaging 26.x semantics. */
export class Specifier {
  readonly operator: SpecifierOperator;
  /** The version text as written (".*" kept). */
  readonly version: string;
  /** Canonical identity used for equality and de-duplication. */
  readonly canonical: string;
  private explicitPre: boolean | null;
  private readonly impliedPre: boolean;
  /** Parsed version (null for `===` with a non-PEP 440 text). */
  private readonly v: Version | null;
  private readonly wildcard: readonly number[] | null;
  private readonly epoch: number;
  /** For `<V` with V final: the lowest pre-release of V (items must sort below it). */
  private readonly low: Version | null;
  private readonly arbitrary: string;

  constructor(spec: string, prereleases: boolean | null = null) {
    const s = spec.replace(TRIM_RE, "");
    const m = OP_RE.exec(s);
    if (m === null) throw invalid(spec);
    const op = m[1] as SpecifierOperator;
    const text = m[2] as string;
    this.operator = op;
    this.version = text;
    this.explicitPre = prereleases;
    this.wildcard = null;
    this.low = null;
    this.arbitrary = "";
    this.epoch = 0;
    if (op === "===") {
      if (!ARBITRARY_RE.test(text)) throw invalid(spec);
      this.v = Version.tryParse(text);
      this.arbitrary = text.toLowerCase();
      this.canonical = `===${text}`;
      this.impliedPre = this.v?.isPrerelease ?? false;
      return;
    }
    if ((op === "==" || op === "!=") && text.endsWith(".*")) {
      if (!WILDCARD_RE.test(text)) throw invalid(spec);
      const base = Version.parse(text.slice(0, -2));
      this.v = base;
      this.epoch = base.epoch;
      this.wildcard = base.release;
      this.canonical = `${op}${base.toString()}.*`;
      this.impliedPre = false;
      return;
    }
    const v = Version.tryParse(text);
    if (v === null || /\s/.test(text)) throw invalid(spec);
    if (op !== "==" && op !== "!=" && v.local !== null) throw invalid(spec);
    if (op === "~=") {
      if (v.release.length < 2) throw invalid(spec);
      // Compatible release: >=V and ==prefix.*
      const prefix = v.release.slice(0, -1);
      this.wildcard = prefix;
      this.epoch = v.epoch;
    }
    this.v = v;
    this.canonical = op + canonicalizeVersion(v, op !== "~=");
    this.impliedPre = op !== "!=" && v.isPrerelease;
    if (op === "<") {
      this.low = v.isPrerelease
        ? v
        : Version.fromParts({ epoch: v.epoch, release: v.release, pre: v.pre, post: v.post, dev: 0 });
    }
  }

  /** Parse a specifier; throws PackagingError(E_SPECIFIER_INVALID). */
  static parse(spec: string, prereleases: boolean | null = null): Specifier {
    return new Specifier(spec, prereleases);
  }

  /** The pre-release policy: explicit if set, else whether the specifier names a pre-release. */
  get prereleases(): boolean {
    return this.explicitPre ?? this.impliedPre;
  }

  set prereleases(value: boolean | null) {
    this.explicitPre = value;
  }

  /** The explicitly set policy, or null. */
  get explicitPrereleases(): boolean | null {
    return this.explicitPre;
  }

  toString(): string {
    return this.operator + this.version;
  }

  toJSON(): string {
    return this.toString();
  }

  equals(other: Specifier): boolean {
    return this.canonical === other.canonical;
  }

  /** Whether `item` satisfies this specifier (ignoring pre-release policy). */
  matches(item: string | Version): boolean {
    if (this.operator === "===") {
      return (typeof item === "string" ? item : item.toString()).toLowerCase() === this.arbitrary;
    }
    const v = coerce(item);
    return v !== null && this.matchVersion(v);
  }

  /** Version-only match (no pre-release policy). */
  matchVersion(v: Version): boolean {
    const sv = this.v as Version;
    switch (this.operator) {
      case "==":
        if (this.wildcard !== null) return this.prefixMatch(v);
        return sv.local !== null ? v.equals(sv) : v.comparePublic(sv) === 0;
      case "!=":
        if (this.wildcard !== null) return !this.prefixMatch(v);
        return sv.local !== null ? !v.equals(sv) : v.comparePublic(sv) !== 0;
      case "~=":
        return v.comparePublic(sv) >= 0 && this.prefixMatch(v);
      case "<=":
        return v.comparePublic(sv) <= 0;
      case ">=":
        return v.comparePublic(sv) >= 0;
      case "<":
        return v.compare(this.low as Version) < 0;
      case ">":
        if (v.compare(sv) <= 0) return false;
        if (sv.post === null && sv.dev === null && v.post !== null && samePre(v, sv)) return false;
        if (v.local !== null && v.comparePublic(sv) === 0) return false;
        return true;
      case "===":
        return v.toString().toLowerCase() === this.arbitrary;
    }
  }

  private prefixMatch(v: Version): boolean {
    if (v.epoch !== this.epoch) return false;
    const w = this.wildcard as readonly number[];
    const r = v.release;
    for (let i = 0; i < w.length; i++) if ((r[i] ?? 0) !== w[i]) return false;
    return true;
  }

  /** PEP 440 membership (packaging 26.x: pre-releases accepted unless the policy says no). */
  contains(item: string | Version, options: ContainsOptions = {}): boolean {
    const policy = options.prereleases ?? this.explicitPre;
    if (this.operator === "===") {
      if (!this.matches(item)) return false;
      if (policy === false) {
        const v = coerce(item);
        if (v?.isPrerelease) return false;
      }
      return true;
    }
    const v = coerce(item);
    if (v === null) return false;
    if (!options.installed && policy === false && v.isPrerelease) return false;
    return this.matchVersion(v);
  }

  /**
   * Keep the items this specifier contains, in input order. With no policy, pre-releases are
   * returned only when no final release matches (or the specifier itself names a pre-release).
   */
  filter<T extends string | Version>(items: Iterable<T>, options: ContainsOptions = {}): T[] {
    const policy = options.prereleases ?? this.explicitPre ?? (this.impliedPre ? true : null);
    return filterWith(
      items,
      policy,
      (item, v) => (this.operator === "===" ? this.matches(item) : v !== null && this.matchVersion(v)),
      false,
    );
  }
}

/** Same epoch, release and pre-release segment (what `>V` treats as "V itself" for post-releases). */
function samePre(v: Version, sv: Version): boolean {
  if (v.p1 >= 0 && sv.p1 >= 0)
    return v.p1 === sv.p1 && Math.floor(v.p2 / 1048576) === Math.floor(sv.p2 / 1048576);
  return v.preKey === sv.preKey;
}

/** Shared filter loop: `policy` null = PEP 440 default (pre-releases only if no final matches). */
export function filterWith<T extends string | Version>(
  items: Iterable<T>,
  policy: boolean | null,
  match: (item: T, v: Version | null) => boolean,
  passInvalid: boolean,
): T[] {
  // Kept items in input order; pre-releases are marked so they can be dropped at the end.
  const kept: T[] = [];
  const isPre: boolean[] = [];
  let finals = 0;
  for (const item of items) {
    const v = coerce(item);
    if (v === null) {
      if (passInvalid || match(item, null)) {
        kept.push(item);
        isPre.push(false);
      }
      continue;
    }
    if (!match(item, v)) continue;
    if (v.isPrerelease) {
      if (policy === false) continue;
      kept.push(item);
      isPre.push(policy === null);
    } else {
      kept.push(item);
      isPre.push(false);
      finals++;
    }
  }
  if (finals === 0 || policy !== null) return kept;
  return kept.filter((_x, i) => !isPre[i]);
}
