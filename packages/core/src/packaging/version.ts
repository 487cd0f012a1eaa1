import { PackagingError, PackagingErrorCode, received } from "./errors";
import { type PackedOrder, packNumbers, plainNumbers, type SortEntry, sortPacked } from "./packedSort";

/** Pre-release label in normalised form. */
export type PreLabel = "a" | "b" | "rc";

/** The parts a PEP 440 version is made of (for {@link Version.fromParts}). */
export interface VersionParts {
  epoch?: number;
  release: readonly number[];
  pre?: readonly [PreLabel, number] | null;
  post?: number | null;
  dev?: number | null;
  /** Local label, e.g. `"ubuntu.1"`. */
  local?: string | null;
}

// One regex, compiled once. Case-insensitive, ASCII-only letters and digits (no `u` flag).
const VERSION_RE =
  /^\s*v?(?:(\d+)!)?(\d+(?:\.\d+)*)(?:[-_.]?(alpha|a|beta|b|preview|pre|c|rc)[-_.]?(\d+)?)?(?:-(\d+)|[-_.]?(post|rev|r)[-_.]?(\d+)?)?(?:[-_.]?(dev)[-_.]?(\d+)?)?(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$/i;
const SIMPLE_RE = /^\d+(?:\.\d+)*$/;
const LOCAL_SEP_RE = /[-_.]/;
const DIGITS_RE = /^\d+$/;

/** Strip leading zeros from a run of ASCII digits. */
function stripZeros(d: string): string {
  if (d.length === 1 || d.charCodeAt(0) !== 48) return d;
  let i = 0;
  while (i < d.length - 1 && d.charCodeAt(i) === 48) i++;
  return d.slice(i);
}

/**
 * Encode a non-negative integer (as digit string, no leading zeros) so that plain string
 * comparison orders numbers numerically: a length character, then the digits.
 */
function encNum(d: string): string {
  return String.fromCharCode(0x40 + d.length) + d;
}

/** A key that sorts after every key starting with `prefix` (used for range bounds). */
export const KEY_TOP = "\uffff";

function preLabel(l: string): PreLabel {
  switch (l.toLowerCase()) {
    case "a":
    case "alpha":
      return "a";
    case "b":
    case "beta":
      return "b";
    default:
      return "rc";
  }
}

interface Raw {
  epoch: string;
  release: string[];
  pre: [PreLabel, string] | null;
  post: string | null;
  dev: string | null;
  local: string[] | null;
}

function buildKeyParts(r: Raw): { releaseKey: string; preKey: string; key: string } {
  let end = r.release.length;
  while (end > 0 && r.release[end - 1] === "0") end--;
  let releaseKey = encNum(r.epoch);
  for (let i = 0; i < end; i++) releaseKey += encNum(r.release[i] as string);
  releaseKey += "\x01";
  let preKey: string;
  if (r.pre === null) preKey = r.post === null && r.dev !== null ? "\x02" : "\x06";
  else preKey = (r.pre[0] === "a" ? "\x03" : r.pre[0] === "b" ? "\x04" : "\x05") + encNum(r.pre[1]);
  let key = releaseKey + preKey;
  key += r.post === null ? "\x02" : `\x03${encNum(r.post)}`;
  key += r.dev === null ? "\x03" : `\x02${encNum(r.dev)}`;
  if (r.local === null) key += "\x02";
  else {
    key += "\x03";
    for (const seg of r.local)
      key += DIGITS_RE.test(seg) ? `\x05${encNum(stripZeros(seg))}` : `\x04${seg}\x01`;
    key += "\x01";
  }
  return { releaseKey, preKey, key };
}

function num(d: string): number {
  return d.length < 16 ? +d : Number(d);
}

/**
 * A PEP 440 version with pypa `packaging` 26.x semantics. Immutable; `key` is a precomputed
 * sort key: `a.key < b.key` exactly when `a < b`, so comparisons never re-parse.
 */
export class Version {
  readonly epoch: number;
  readonly release: readonly number[];
  readonly pre: readonly [PreLabel, number] | null;
  readonly post: number | null;
  readonly dev: number | null;
  /** Normalised local label (`"ubuntu.1"`), or null. */
  readonly local: string | null;
  /**
   * Packed numeric sort key of the public version for common versions (epoch <= 3, at most 4
   * release numbers < 4096, small pre/post/dev numbers): `p1` then `p2` order the public part
   * exactly like `key`; equal public parts then order by local label. `p1` is -1 when the
   * version does not fit; then only `key` applies.
   */
  readonly p1: number;
  readonly p2: number;
  private raw: Raw | null;
  private keys: { key: string; releaseKey: string; preKey: string } | null = null;
  private textCache: string | null = null;
  private publicKeyCache: string | null = null;

  private constructor(r: Raw) {
    this.epoch = num(r.epoch);
    this.release = r.release.map(num);
    this.pre = r.pre === null ? null : [r.pre[0], num(r.pre[1])];
    this.post = r.post === null ? null : num(r.post);
    this.dev = r.dev === null ? null : num(r.dev);
    this.local = r.local === null ? null : r.local.join(".");
    this.raw = r;
    const packed = pack(this);
    this.p1 = packed[0];
    this.p2 = packed[1];
  }

  private ensureKeys(): { key: string; releaseKey: string; preKey: string } {
    if (this.keys === null) {
      const k = buildKeyParts(this.raw as Raw);
      this.keys = { key: k.key, releaseKey: k.releaseKey, preKey: k.releaseKey + k.preKey };
      if (this.textCache !== null) this.raw = null;
    }
    return this.keys;
  }

  /** Sort key: compare with `<`/`===` (total order, equal keys = equal versions). Built on first use. */
  get key(): string {
    return this.ensureKeys().key;
  }

  /** Key of (epoch, release) only, trailing zeros dropped. */
  get releaseKey(): string {
    return this.ensureKeys().releaseKey;
  }

  /** Key up to and including the pre-release segment. */
  get preKey(): string {
    return this.ensureKeys().preKey;
  }

  private get text(): string {
    if (this.textCache === null) {
      const r = this.raw as Raw;
      let s = r.epoch === "0" ? "" : `${r.epoch}!`;
      s += r.release.join(".");
      if (r.pre !== null) s += r.pre[0] + r.pre[1];
      if (r.post !== null) s += `.post${r.post}`;
      if (r.dev !== null) s += `.dev${r.dev}`;
      if (r.local !== null) s += `+${this.local}`;
      this.textCache = s;
      if (this.keys !== null) this.raw = null;
    }
    return this.textCache;
  }

  /** Parse a version; throws PackagingError(E_VERSION_INVALID). */
  static parse(s: string): Version {
    const v = Version.tryParse(s);
    if (v === null) {
      throw new PackagingError(
        PackagingErrorCode.VERSION_INVALID,
        `Expected a PEP 440 version such as "1.2.3", "2!1.0rc1" or "1.0.post1+local", received ${received(s)}`,
      );
    }
    return v;
  }

  /** Parse a version, or null when it is not PEP 440. */
  static tryParse(s: string): Version | null {
    if (SIMPLE_RE.test(s)) {
      const parts = s.split(".");
      for (let i = 0; i < parts.length; i++) parts[i] = stripZeros(parts[i] as string);
      return new Version({ epoch: "0", release: parts, pre: null, post: null, dev: null, local: null });
    }
    const m = VERSION_RE.exec(s);
    if (m === null) return null;
    const release = (m[2] as string).split(".");
    for (let i = 0; i < release.length; i++) release[i] = stripZeros(release[i] as string);
    const pre: [PreLabel, string] | null =
      m[3] === undefined ? null : [preLabel(m[3]), m[4] === undefined ? "0" : stripZeros(m[4])];
    let post: string | null = null;
    if (m[5] !== undefined) post = stripZeros(m[5]);
    else if (m[6] !== undefined) post = m[7] === undefined ? "0" : stripZeros(m[7]);
    const dev = m[8] === undefined ? null : m[9] === undefined ? "0" : stripZeros(m[9]);
    const local = m[10] === undefined ? null : m[10].toLowerCase().split(LOCAL_SEP_RE);
    if (local !== null)
      for (let i = 0; i < local.length; i++)
        if (DIGITS_RE.test(local[i] as string)) local[i] = stripZeros(local[i] as string);
    return new Version({
      epoch: m[1] === undefined ? "0" : stripZeros(m[1]),
      release,
      pre,
      post,
      dev,
      local,
    });
  }

  /** True when `s` is a valid PEP 440 version. */
  static isValid(s: string): boolean {
    return SIMPLE_RE.test(s) || VERSION_RE.test(s);
  }

  /** Build a version from its parts (validated like a parsed string). */
  static fromParts(p: VersionParts): Version {
    const int = (n: number, what: string): string => {
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new PackagingError(
          PackagingErrorCode.VERSION_INVALID,
          `Expected ${what} to be a non-negative integer such as 1, received ${received(String(n))}`,
        );
      }
      return String(n);
    };
    if (p.release.length === 0) {
      throw new PackagingError(
        PackagingErrorCode.VERSION_INVALID,
        "Expected a non-empty release such as [1, 2], received []",
      );
    }
    let local: string[] | null = null;
    if (p.local !== undefined && p.local !== null) {
      if (!/^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/i.test(p.local)) {
        throw new PackagingError(
          PackagingErrorCode.VERSION_INVALID,
          `Expected a local label such as "ubuntu.1", received ${received(p.local)}`,
        );
      }
      local = p.local
        .toLowerCase()
        .split(LOCAL_SEP_RE)
        .map((x) => (DIGITS_RE.test(x) ? stripZeros(x) : x));
    }
    return new Version({
      epoch: int(p.epoch ?? 0, "epoch"),
      release: p.release.map((n) => int(n, "a release number")),
      pre:
        p.pre === undefined || p.pre === null
          ? null
          : [preLabel(p.pre[0]), int(p.pre[1], "the pre-release number")],
      post: p.post === undefined || p.post === null ? null : int(p.post, "the post-release number"),
      dev: p.dev === undefined || p.dev === null ? null : int(p.dev, "the dev-release number"),
      local,
    });
  }

  /** Normalised form, e.g. `1!2.0rc1.post2.dev3+local.7`. */
  toString(): string {
    return this.text;
  }

  toJSON(): string {
    return this.text;
  }

  /** The version without its local label. */
  get public(): string {
    const i = this.text.indexOf("+");
    return i < 0 ? this.text : this.text.slice(0, i);
  }

  /** Epoch and release only, e.g. `1!2.0`. */
  get baseVersion(): string {
    return (this.epoch === 0 ? "" : `${this.epoch}!`) + this.release.join(".");
  }

  get isPrerelease(): boolean {
    return this.pre !== null || this.dev !== null;
  }

  get isPostrelease(): boolean {
    return this.post !== null;
  }

  get isDevrelease(): boolean {
    return this.dev !== null;
  }

  get major(): number {
    return this.release[0] ?? 0;
  }

  get minor(): number {
    return this.release[1] ?? 0;
  }

  get micro(): number {
    return this.release[2] ?? 0;
  }

  /** -1, 0 or 1. */
  compare(other: Version): -1 | 0 | 1 {
    if (this.p1 >= 0 && other.p1 >= 0) {
      if (this.p1 !== other.p1) return this.p1 < other.p1 ? -1 : 1;
      if (this.p2 !== other.p2) return this.p2 < other.p2 ? -1 : 1;
      if (this.local === null || other.local === null)
        return this.local === other.local ? 0 : this.local === null ? -1 : 1;
    }
    const a = this.key;
    const b = other.key;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: Version): boolean {
    if (
      this.p1 >= 0 &&
      other.p1 >= 0 &&
      (this.p1 !== other.p1 || this.p2 !== other.p2 || this.local === null || other.local === null)
    ) {
      return this.p1 === other.p1 && this.p2 === other.p2 && this.local === other.local;
    }
    return this.key === other.key;
  }

  /** Key of this version with the local label removed. */
  get publicKey(): string {
    if (this.local === null) return this.key;
    if (this.publicKeyCache === null)
      this.publicKeyCache = `${this.key.slice(0, this.key.lastIndexOf("\x03"))}\x02`;
    return this.publicKeyCache;
  }

  /** Compare the public parts (local labels ignored) of two versions: -1, 0 or 1. */
  comparePublic(other: Version): -1 | 0 | 1 {
    if (this.p1 >= 0 && other.p1 >= 0) {
      if (this.p1 !== other.p1) return this.p1 < other.p1 ? -1 : 1;
      return this.p2 < other.p2 ? -1 : this.p2 > other.p2 ? 1 : 0;
    }
    const a = this.publicKey;
    const b = other.publicKey;
    return a < b ? -1 : a > b ? 1 : 0;
  }
}

/** p2 of a final release with no post/dev (phase 4, no post, no dev). */
const FINAL_P2 = 4 * 2 ** 28 + 4095;

/** How many release numbers count: trailing zeros do not (`1.0` is `1`). */
function releaseLength(release: readonly number[]): number {
  let end = release.length;
  while (end > 0 && release[end - 1] === 0) end--;
  return end;
}

/** Packed [p1, p2] (see {@link Version.p1}), or [-1, 0] when the version does not fit. */
function pack(v: Version): [number, number] {
  if (v.epoch > 3) return [-1, 0];
  const p1 = packNumbers(v.epoch, v.release, 4, releaseLength(v.release));
  if (p1 < 0) return [-1, 0];
  let phase: number;
  let preN = 0;
  if (v.pre === null) phase = v.post === null && v.dev !== null ? 0 : 4;
  else {
    phase = v.pre[0] === "a" ? 1 : v.pre[0] === "b" ? 2 : 3;
    preN = v.pre[1];
  }
  const post = v.post === null ? 0 : v.post + 1;
  const dev = v.dev === null ? 4095 : v.dev;
  if (preN > 255 || post > 255 || dev > 4095 || (v.dev !== null && v.dev >= 4095)) return [-1, 0];
  return [p1, ((phase * 256 + preN) * 256 + post) * 4096 + dev];
}

/** Compare two versions (for `Array.prototype.sort`). */
export function compareVersions(a: Version, b: Version): number {
  return a.compare(b);
}

interface PackedEntry extends SortEntry {
  p1: number;
  p2: number;
  /** Has a local label (orders after the same public version). */
  l: boolean;
}

/** Plain releases pack straight from the string; others parse (and keep their key when they do not pack). */
const pep440Order: PackedOrder<PackedEntry> = {
  entry(s) {
    const nums = plainNumbers(s);
    const p = nums === null ? -1 : packNumbers(0, nums, 4, releaseLength(nums));
    if (p >= 0) return { s, p1: p, p2: FINAL_P2, l: false, k: null };
    const v = Version.parse(s);
    return { s, p1: v.p1, p2: v.p2, l: v.local !== null, k: v.p1 >= 0 ? null : v.key };
  },
  compare(a, b) {
    if (a.p1 < 0 || b.p1 < 0) return undefined;
    const d = a.p1 - b.p1 || a.p2 - b.p2;
    if (d !== 0) return d;
    if (!a.l || !b.l) return a.l === b.l ? 0 : a.l ? 1 : -1;
    return undefined;
  },
  key: (s) => Version.parse(s).key,
};

/**
 * Parse and sort version strings ascending by PEP 440 order. Throws on an invalid string.
 * Each string is parsed once; common versions compare as packed numbers, others by sort key.
 */
export function sortVersions(versions: readonly string[]): string[] {
  return sortPacked(versions, pep440Order);
}

const NAME_SEP_RE = /[-_.]+/g;
const VALID_NAME_RE = /^([a-z0-9]|[a-z0-9][a-z0-9._-]*[a-z0-9])$/i;

/** PEP 503 name normalisation: lower-case, runs of `-_.` become one `-`. */
export function canonicalizeName(name: string): string {
  return name.replace(NAME_SEP_RE, "-").toLowerCase();
}

/** True when `name` is a valid PEP 508 project name. */
export function isValidName(name: string): boolean {
  return VALID_NAME_RE.test(name);
}
