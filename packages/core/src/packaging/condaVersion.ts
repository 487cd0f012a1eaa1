import { memoize } from "../internal/memo";
import { PackagingError, PackagingErrorCode, received } from "./errors";
import { type PackedOrder, packNumbers, plainNumbers, type SortEntry, sortPacked } from "./packedSort";

/** One part of a conda version component: a number, a lower-case string, "DEV", or +Infinity (post). */
export type CondaVersionPart = number | string;

const CHECK_RE = /^[*.+!_0-9a-z]+$/;
const SPLIT_RE = /[0-9]+|[*]+|[^0-9*]+/g;
const DIGITS_RE = /^[0-9]+$/;
const STARTS_DIGIT_RE = /^[0-9]/;

function invalid(input: string, why: string): PackagingError {
  return new PackagingError(
    PackagingErrorCode.CONDA_VERSION_INVALID,
    `Expected a conda version such as "1.2.3", "1!2.0a1" or "1.0.1_post2+local" (${why}), received ${received(input)}`,
  );
}

function encNum(d: string): string {
  return String.fromCharCode(0x40 + d.length) + d;
}

// Sort-key codes. A run of zero parts (or of all-zero components) is folded into what follows,
// because conda pads with zeros: 0 sorts above strings and below positive numbers.
const K_STR = "\x10";
const K_ZERO_STR = "\x11";
const K_EMPTY_NEG = "\x12";
const K_END = "\x14";
const K_EMPTY_POS = "\x16";
const K_ZERO_POS = "\x17";
const K_NUM = "\x18";
const K_INF = "\x19";

function isZero(p: CondaVersionPart): boolean {
  return p === 0;
}

function partKey(p: CondaVersionPart, digits: string | undefined): string {
  if (typeof p === "string") return `${K_STR}${p}\x01`;
  if (p === Number.POSITIVE_INFINITY) return K_INF;
  return K_NUM + encNum(digits ?? String(p));
}

/** Key of one component (zero-padded list of parts); "" when it is all zeros. */
function componentKey(parts: readonly CondaVersionPart[], digits: readonly (string | undefined)[]): string {
  let end = parts.length;
  while (end > 0 && isZero(parts[end - 1] as CondaVersionPart)) end--;
  let key = "";
  let zeros = 0;
  for (let i = 0; i < end; i++) {
    const p = parts[i] as CondaVersionPart;
    if (isZero(p)) {
      zeros++;
      continue;
    }
    if (zeros > 0) {
      key +=
        typeof p === "string"
          ? K_ZERO_STR + encNum(String(zeros))
          : K_ZERO_POS + String.fromCharCode(0xf000 - zeros);
      zeros = 0;
    }
    key += partKey(p, digits[i]);
  }
  return key;
}

function firstIsNegative(parts: readonly CondaVersionPart[]): boolean {
  for (const p of parts) if (!isZero(p)) return typeof p === "string";
  return false;
}

function sequenceKey(
  comps: readonly (readonly CondaVersionPart[])[],
  digits: readonly (readonly (string | undefined)[])[],
): string {
  let key = "";
  let empties = 0;
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i] as readonly CondaVersionPart[];
    const k = componentKey(c, digits[i] as readonly (string | undefined)[]);
    if (k === "") {
      empties++;
      continue;
    }
    if (empties > 0) {
      key += firstIsNegative(c)
        ? K_EMPTY_NEG + encNum(String(empties))
        : K_EMPTY_POS + String.fromCharCode(0xf000 - empties);
      empties = 0;
    }
    key += k + K_END;
  }
  return key + K_END;
}

function parseComponents(
  raw: string[],
  input: string,
): { comps: CondaVersionPart[][]; digits: (string | undefined)[][] } {
  const comps: CondaVersionPart[][] = [];
  const digits: (string | undefined)[][] = [];
  for (const r of raw) {
    const runs = r.match(SPLIT_RE);
    if (runs === null) throw invalid(input, "empty version component");
    const c: CondaVersionPart[] = [];
    const d: (string | undefined)[] = [];
    for (const run of runs) {
      if (DIGITS_RE.test(run)) {
        let z = 0;
        while (z < run.length - 1 && run.charCodeAt(z) === 48) z++;
        const s = run.slice(z);
        c.push(Number(s));
        d.push(s);
      } else if (run === "post") {
        c.push(Number.POSITIVE_INFINITY);
        d.push(undefined);
      } else {
        c.push(run === "dev" ? "DEV" : run);
        d.push(undefined);
      }
    }
    if (!STARTS_DIGIT_RE.test(r)) {
      c.unshift(0);
      d.unshift("0");
    }
    comps.push(c);
    digits.push(d);
  }
  return { comps, digits };
}

const parsedVersions = memoize(50_000, (input) => new CondaVersion(input));

/**
 * A conda version (conda's VersionOrder): epoch, dot/underscore-separated components of
 * alternating numbers and strings, optional `+local`. `key` is a precomputed sort key.
 */
export class CondaVersion {
  /** Lower-cased, stripped input ("-" becomes "_" when there is no "_"). */
  readonly normalized: string;
  /** Components, epoch first (as `[epoch]`); "post" is +Infinity, "dev" is "DEV". */
  readonly version: readonly (readonly CondaVersionPart[])[];
  readonly local: readonly (readonly CondaVersionPart[])[];
  /** Packed numeric key of plain numeric versions (epoch <= 3, at most 4 numbers < 4096, no local), else -1. */
  readonly p: number;
  /** Epoch and numbers of a purely numeric version without local part (one number per component), else null. */
  private readonly nums: number[] | null;
  private digits: { v: (string | undefined)[][]; l: (string | undefined)[][] } | null;
  private keyCache: string | null = null;

  constructor(input: string) {
    let v = input.trim().toLowerCase();
    if (v === "") throw invalid(input, "empty version");
    let bad = !CHECK_RE.test(v);
    if (bad && v.includes("-") && !v.includes("_")) {
      v = v.replaceAll("-", "_");
      bad = !CHECK_RE.test(v);
    }
    if (bad) throw invalid(input, "invalid character(s)");
    this.normalized = v;
    const bang = v.split("!");
    let epoch = "0";
    if (bang.length === 2) {
      if (!DIGITS_RE.test(bang[0] as string)) throw invalid(input, "the epoch must be an integer");
      epoch = bang[0] as string;
    } else if (bang.length > 2) throw invalid(input, "duplicated epoch separator '!'");
    const plus = (bang[bang.length - 1] as string).split("+");
    if (plus.length > 2) throw invalid(input, "duplicated local version separator '+'");
    const main = plus[0] as string;
    const localRaw = plus.length === 2 ? (plus[1] as string).replaceAll("_", ".").split(".") : [];
    let split: string[];
    if (main.endsWith("_")) {
      split = main.slice(0, -1).replaceAll("_", ".").split(".");
      split[split.length - 1] += "_";
    } else split = main.replaceAll("_", ".").split(".");
    const ver = parseComponents([epoch, ...split], input);
    const loc = parseComponents(localRaw, input);
    this.version = ver.comps;
    this.local = loc.comps;
    this.digits = { v: ver.digits, l: loc.digits };
    let nums: number[] | null = loc.comps.length === 0 ? [] : null;
    if (nums !== null) {
      for (const c of ver.comps) {
        if (c.length !== 1 || typeof c[0] !== "number" || !Number.isFinite(c[0])) {
          nums = null;
          break;
        }
        nums.push(c[0]);
      }
    }
    this.nums = nums;
    this.p = nums === null ? -1 : packEpochAndNumbers(nums);
  }

  /** Sort key: `a.key < b.key` iff a sorts before b; equal keys iff equal versions. Built on first use. */
  get key(): string {
    if (this.keyCache === null) {
      const d = this.digits as { v: (string | undefined)[][]; l: (string | undefined)[][] };
      this.keyCache = sequenceKey(this.version, d.v) + sequenceKey(this.local, d.l);
      this.digits = null;
    }
    return this.keyCache;
  }

  /** Parse (cached). Throws PackagingError(E_CONDA_VERSION_INVALID). */
  static parse(input: string): CondaVersion {
    return parsedVersions(input);
  }

  toString(): string {
    return this.normalized;
  }

  toJSON(): string {
    return this.normalized;
  }

  compare(other: CondaVersion): -1 | 0 | 1 {
    if (this.p >= 0 && other.p >= 0) return this.p < other.p ? -1 : this.p > other.p ? 1 : 0;
    const a = this.key;
    const b = other.key;
    return a < b ? -1 : a > b ? 1 : 0;
  }

  equals(other: CondaVersion): boolean {
    if (this.p >= 0 && other.p >= 0) return this.p === other.p;
    return this.key === other.key;
  }

  /** conda's prefix match (used by `1.7*`, `=1.7`): the version lists agree up to `prefix`'s last part. */
  startsWith(prefix: CondaVersion): boolean {
    const a = this.nums;
    const b = prefix.nums;
    if (a !== null && b !== null) {
      for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return false;
      return true;
    }
    let t1: readonly (readonly CondaVersionPart[])[];
    let t2: readonly (readonly CondaVersionPart[])[];
    if (prefix.local.length > 0) {
      if (!eqSeqUpTo(this.version, prefix.version, Math.max(this.version.length, prefix.version.length)))
        return false;
      t1 = this.local;
      t2 = prefix.local;
    } else {
      t1 = this.version;
      t2 = prefix.version;
    }
    const nt = t2.length - 1;
    if (!eqSeqUpTo(t1, t2, nt)) return false;
    const v1 = t1.length <= nt ? EMPTY : (t1[nt] as readonly CondaVersionPart[]);
    const v2 = t2[nt] as readonly CondaVersionPart[];
    const np = v2.length - 1;
    for (let j = 0; j < np; j++) if ((v1[j] ?? 0) !== (v2[j] ?? 0)) return false;
    const c1 = v1.length <= np ? 0 : (v1[np] as CondaVersionPart);
    const c2 = v2[np] as CondaVersionPart;
    if (typeof c2 === "string") return typeof c1 === "string" && c1.startsWith(c2);
    return c1 === c2;
  }
}

const EMPTY: readonly CondaVersionPart[] = [];

/** Zero-padded equality of the first `n` components of two component lists. */
function eqSeqUpTo(
  a: readonly (readonly CondaVersionPart[])[],
  b: readonly (readonly CondaVersionPart[])[],
  n: number,
): boolean {
  for (let i = 0; i < n; i++) {
    const x = a[i] ?? EMPTY;
    const y = b[i] ?? EMPTY;
    const m = Math.max(x.length, y.length);
    for (let j = 0; j < m; j++) if ((x[j] ?? 0) !== (y[j] ?? 0)) return false;
  }
  return true;
}

/** conda's reference comparison (no keys), kept to cross-check the sort key in tests. */
export function compareCondaVersionsSlow(a: CondaVersion, b: CondaVersion): -1 | 0 | 1 {
  for (const [t1, t2] of [
    [a.version, b.version],
    [a.local, b.local],
  ] as const) {
    const n = Math.max(t1.length, t2.length);
    for (let i = 0; i < n; i++) {
      const v1 = t1[i] ?? [];
      const v2 = t2[i] ?? [];
      const m = Math.max(v1.length, v2.length);
      for (let j = 0; j < m; j++) {
        const c1 = v1[j] ?? 0;
        const c2 = v2[j] ?? 0;
        if (c1 === c2) continue;
        if (typeof c1 === "string") return typeof c2 === "string" ? (c1 < c2 ? -1 : 1) : -1;
        if (typeof c2 === "string") return 1;
        return c1 < c2 ? -1 : 1;
      }
    }
  }
  return 0;
}

/** Packed key of `[epoch, ...numbers]` (epoch <= 3, at most 4 numbers < 4096), else -1. */
function packEpochAndNumbers(nums: readonly number[]): number {
  return (nums[0] as number) > 3 ? -1 : packNumbers(0, nums, 5);
}

interface PackedEntry extends SortEntry {
  p: number;
}

/** Plain versions pack straight from the string; others parse (and keep their key when they do not pack). */
const condaOrder: PackedOrder<PackedEntry> = {
  entry(s) {
    const nums = plainNumbers(s);
    const p = nums === null ? -1 : packNumbers(0, nums, 4);
    if (p >= 0) return { s, p, k: null };
    const v = new CondaVersion(s);
    return { s, p: v.p, k: v.p >= 0 ? null : v.key };
  },
  compare: (a, b) => (a.p >= 0 && b.p >= 0 ? a.p - b.p : undefined),
  key: (s) => CondaVersion.parse(s).key,
};

/** Parse and sort conda version strings ascending (each parsed once; plain versions compare as numbers). */
export function sortCondaVersions(versions: readonly string[]): string[] {
  return sortPacked(versions, condaOrder);
}
