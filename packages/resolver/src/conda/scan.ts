/**
 * A structural scanner for repodata.json bytes. The document scan finds every record of
 * `packages` / `packages.conda` (its byte range, and where its file name and name strings are)
 * without decoding the document or building any object; {@link scanRecordFields} then reads the
 * other fields of just the records a solve touches. Throws on anything it does not expect
 * (including a record key spelled with escapes); callers then fall back to JSON.parse.
 */

/** Int32 slots per record in {@link RepodataScan.rows}. */
export const ROW = 14;
/** Slot offsets within a row. String ranges exclude the quotes; -1 when absent or not a string. */
export const R_START = 0;
export const R_END = 1;
export const R_FN = 2;
export const R_FN_END = 3;
export const R_NAME = 4;
export const R_NAME_END = 5;
export const R_VERSION = 6;
export const R_VERSION_END = 7;
export const R_BUILD = 8;
export const R_BUILD_END = 9;
/** 0 when the record has no track_features (absent or ""), 1 when it must be parsed to know. */
export const R_TRACK = 10;
/** The `depends` array, brackets included; -1 when absent, -2 when not an array. */
export const R_DEPENDS = 11;
export const R_DEPENDS_END = 12;
/**
 * 1 once every field slot is filled. The document scan fills only the extent, file name and
 * name (all a solve needs to group records); {@link scanRecordFields} fills the rest of one
 * row, for the records a solve touches.
 */
export const R_FULL = 13;
/** Float64 slots per record in {@link RepodataScan.nums}. */
export const NUMS = 2;
/** build_number and timestamp: 0 when absent, NaN when the record must be parsed to know. */
export const N_BUILD_NUMBER = 0;
export const N_TIMESTAMP = 1;

export interface RepodataScan {
  /** {@link ROW} int32 per record; `count` records are filled. */
  rows: Int32Array;
  /** {@link NUMS} float64 per record. */
  nums: Float64Array;
  count: number;
  /** Position of the document's last '"'. */
  lastQuote: number;
  /** Row ranges `[from, to)` of the (last) `packages` and `packages.conda` groups. */
  packages: readonly [number, number];
  conda: readonly [number, number];
}

const Q = 34; // "
const BS = 92; // \
const LB = 123; // {
const RB = 125; // }
const LS = 91; // [
const RS = 93; // ]
const COLON = 58;
const COMMA = 44;

const F_OTHER = 0;
const F_NAME = 1;
const F_VERSION = 2;
const F_BUILD = 3;
const F_BUILD_NUMBER = 4;
const F_TIMESTAMP = 5;
const F_TRACK = 6;
const F_DEPENDS = 7;

/** Which record field a key (bytes [at, at + len), no escapes) names: decided by length first. */
function fieldOf(b: Uint8Array, at: number, len: number): number {
  // "name" "build" "version" "timestamp" "build_number" "track_features"
  if (len === 4)
    return b[at] === 110 && b[at + 1] === 97 && b[at + 2] === 109 && b[at + 3] === 101 ? F_NAME : F_OTHER;
  if (len === 5) {
    return b[at] === 98 && b[at + 1] === 117 && b[at + 2] === 105 && b[at + 3] === 108 && b[at + 4] === 100
      ? F_BUILD
      : F_OTHER;
  }
  if (len === 7) {
    if (b[at] === 100) return b[at + 6] === 115 && bytesAre(b, at, DEPENDS) ? F_DEPENDS : F_OTHER;
    return b[at] === 118 && b[at + 6] === 110 && bytesAre(b, at, VERSION) ? F_VERSION : F_OTHER;
  }
  if (len === 9)
    return b[at] === 116 && b[at + 8] === 112 && bytesAre(b, at, TIMESTAMP) ? F_TIMESTAMP : F_OTHER;
  if (len === 12)
    return b[at] === 98 && b[at + 11] === 114 && bytesAre(b, at, BUILD_NUMBER) ? F_BUILD_NUMBER : F_OTHER;
  if (len === 14)
    return b[at] === 116 && b[at + 13] === 115 && bytesAre(b, at, TRACK_FEATURES) ? F_TRACK : F_OTHER;
  return F_OTHER;
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const VERSION = ascii("version");
const DEPENDS = ascii("depends");
const TIMESTAMP = ascii("timestamp");
const BUILD_NUMBER = ascii("build_number");
const TRACK_FEATURES = ascii("track_features");

function bytesAre(b: Uint8Array, at: number, word: Uint8Array): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word[k]) return false;
  return true;
}

/**
 * The position of the quote closing the string opened at `open`, or minus the position where
 * the search failed (no closing quote before `lastQuote`, the document's last quote). One compare
 * per byte: a quote after an odd run of backslashes is escaped.
 */
function closingQuote(b: Uint8Array, open: number, lastQuote: number): number {
  if (open >= lastQuote) return -open;
  let i = open + 1;
  for (;;) {
    while (b[i] !== Q) i++;
    if (b[i - 1] !== BS || escapedRunIsEven(b, i)) return i;
    if (i >= lastQuote) return -i;
    i++;
  }
}

/** Whether the backslashes right before the quote at `q` pair up (so the quote is not escaped). */
function escapedRunIsEven(b: Uint8Array, q: number): boolean {
  let k = q - 1;
  while (b[k] === BS) k--;
  return ((q - 1 - k) & 1) === 0;
}

/** The value of a plain JSON integer in bytes [from, to) (trailing whitespace allowed); NaN otherwise. */
function plainInteger(b: Uint8Array, from: number, to: number): number {
  let j = from;
  let value = 0;
  while (j < to && (b[j] as number) >= 48 && (b[j] as number) <= 57)
    value = value * 10 + ((b[j++] as number) - 48);
  const digits = j - from;
  while (j < to && isWs(b[j])) j++;
  return digits > 0 && digits <= 15 && j === to && (digits === 1 || b[from] !== 48) ? value : Number.NaN;
}

const isWs = (c: number | undefined) => c === 32 || c === 10 || c === 13 || c === 9;

class Scanner {
  i = 0;
  /** Position of the document's last quote: every string loop stops there at the latest. */
  readonly lastQuote: number;
  rows: Int32Array;
  nums: Float64Array;
  count = 0;

  constructor(
    readonly b: Uint8Array,
    existing?: RepodataScan,
  ) {
    this.lastQuote = existing ? existing.lastQuote : b.lastIndexOf(Q);
    // a guess at the record count (repodata averages ~400 bytes per record); grown on demand
    const guess = Math.max(64, (b.length / 384) | 0);
    this.rows = existing?.rows ?? new Int32Array(ROW * guess);
    this.nums = existing?.nums ?? new Float64Array(NUMS * guess);
    if (existing) return; // a rescan of one record of a document already scanned
    let end = b.length - 1;
    while (end >= 0 && isWs(b[end])) end--;
    // every loop below ends at the document's final '}' at the latest
    if (b[end] !== RB) this.fail("'}' at the end of the document");
  }

  failAt(at: number, what: string): never {
    this.i = at;
    this.fail(what);
  }

  fail(what: string): never {
    throw new Error(`repodata scan: expected ${what} at byte ${this.i}`);
  }

  ws(): void {
    const b = this.b;
    let c = b[this.i] as number;
    while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++this.i] as number;
  }

  /** With `this.i` on an opening quote, the position of its closing quote. */
  stringEnd(): number {
    const close = closingQuote(this.b, this.i, this.lastQuote);
    if (close < 0) this.failAt(-close, "a closing quote");
    return close;
  }

  expect(c: number, what: string): void {
    this.ws();
    if (this.b[this.i] !== c) this.fail(what);
    this.i++;
  }

  /** Skip any JSON value (structure only; records are validated when they are parsed). */
  skipValue(): void {
    const b = this.b;
    this.ws();
    const c = b[this.i];
    if (c === Q) {
      this.i = this.stringEnd() + 1;
      return;
    }
    if (c === LB || c === LS) {
      let depth = 0;
      for (;;) {
        const d = b[this.i];
        if (d === Q) {
          this.i = this.stringEnd() + 1;
          continue;
        }
        if (d === LB || d === LS) depth++;
        else if (d === RB || d === RS) {
          if (--depth === 0) {
            this.i++;
            return;
          }
        } else if (d === undefined) this.fail("the end of a value");
        this.i++;
      }
    }
    // number, true, false, null
    for (;;) {
      const d = b[this.i];
      if (d === undefined || d === COMMA || d === RB || d === RS || isWs(d)) return;
      this.i++;
    }
  }

  /** A record object at `this.i`: appends its row. */
  record(fnStart: number, fnEnd: number, full: boolean): void {
    const b = this.b;
    const lastQuote = this.lastQuote;
    let i = this.i;
    let c = b[i] as number;
    while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
    const start = i;
    if (c !== LB) this.failAt(i, "a record object");
    let nameS = -1;
    let nameE = -1;
    let verS = -1;
    let verE = -1;
    let buildS = -1;
    let buildE = -1;
    let buildNumber = 0;
    let timestamp = 0;
    let track = 0;
    let depS = -1;
    let depE = -1;
    c = b[++i] as number;
    while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
    if (c === RB) c = -1; // {}: no members
    // grammar-driven: key, ':', value, then ',' or '}'; the common values (strings, arrays of
    // strings, integers) are skipped inline, anything else by skipValue
    while (c !== -1) {
      while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
      if (c !== Q || i >= lastQuote) this.failAt(i, "a key");
      const open = i;
      c = b[++i] as number;
      while (c !== Q) {
        if (c === BS) this.failAt(i, "a key without escapes"); // JSON.parse decides those
        c = b[++i] as number;
      }
      const len = i - open - 1;
      const k0 = b[open + 1] as number;
      // the document scan wants only "name"; in a full scan most keys (md5, sha256, size,
      // license, subdir...) are ruled out by their first byte
      const field = !full
        ? len === 4 && k0 === 110 && b[open + 2] === 97 && b[open + 3] === 109 && b[open + 4] === 101
          ? F_NAME
          : F_OTHER
        : k0 === 110 || k0 === 98 || k0 === 118 || k0 === 116 || k0 === 100
          ? fieldOf(b, open + 1, len)
          : F_OTHER;
      c = b[++i] as number;
      while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
      if (c !== COLON) this.failAt(i, "':' after a key");
      c = b[++i] as number;
      while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
      const v = i;
      if (c === Q) {
        i = closingQuote(b, i, lastQuote);
        if (i < 0) this.failAt(-i, "a closing quote");
        c = b[++i] as number;
      } else if (c === LS) {
        // an array, usually of strings (depends, constrains)
        c = b[++i] as number;
        for (;;) {
          while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
          if (c === Q) {
            i = closingQuote(b, i, lastQuote);
            if (i < 0) this.failAt(-i, "a closing quote");
            c = b[++i] as number;
          } else if (c === RS) {
            c = b[++i] as number;
            break;
          } else {
            this.i = i;
            this.skipValue();
            i = this.i;
            c = b[i] as number;
          }
          while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
          if (c === COMMA) c = b[++i] as number;
          else if (c === RS) {
            c = b[++i] as number;
            break;
          } else this.failAt(i, "',' or ']' in an array");
        }
      } else if ((c >= 48 && c <= 57) || c === 45) {
        // a number: digits, sign, fraction and exponent characters
        c = b[++i] as number;
        while ((c >= 48 && c <= 57) || c === 46 || c === 101 || c === 69 || c === 43 || c === 45)
          c = b[++i] as number;
      } else {
        // an object, true, false or null
        this.i = i;
        this.skipValue();
        i = this.i;
        c = b[i] as number;
      }
      if (field !== F_OTHER) {
        const q = b[v] === Q;
        if (field === F_NAME) {
          // a later duplicate key wins, as in JSON.parse; a non-string value clears the field
          nameS = q ? v + 1 : -1;
          nameE = q ? i - 1 : -1;
        } else if (field === F_VERSION) {
          verS = q ? v + 1 : -1;
          verE = q ? i - 1 : -1;
        } else if (field === F_BUILD) {
          buildS = q ? v + 1 : -1;
          buildE = q ? i - 1 : -1;
        } else if (field === F_DEPENDS) {
          depS = b[v] === LS ? v : -2;
          depE = b[v] === LS ? i : -2;
        } else if (field === F_TRACK) {
          // "" means none; anything else is read when the record is parsed
          track = q && i - v === 2 ? 0 : 1;
        } else {
          // build_number, timestamp: a plain integer is read here, anything else when parsed
          const value = plainInteger(b, v, i);
          if (field === F_BUILD_NUMBER) buildNumber = value;
          else timestamp = value;
        }
      }
      while (c <= 32 && (c === 32 || c === 10 || c === 13 || c === 9)) c = b[++i] as number;
      if (c === COMMA) c = b[++i] as number;
      else if (c === RB) break;
      else this.failAt(i, "',' or '}' in a record");
    }
    this.i = i + 1;
    if (this.count * ROW === this.rows.length) {
      const grown = new Int32Array(this.rows.length * 2);
      grown.set(this.rows);
      this.rows = grown;
      const nums = new Float64Array(this.nums.length * 2);
      nums.set(this.nums);
      this.nums = nums;
    }
    const o = this.count++ * ROW;
    const rows = this.rows;
    rows[o + R_START] = start;
    rows[o + R_END] = i + 1;
    rows[o + R_FN] = fnStart;
    rows[o + R_FN_END] = fnEnd;
    rows[o + R_NAME] = nameS;
    rows[o + R_NAME_END] = nameE;
    rows[o + R_VERSION] = verS;
    rows[o + R_VERSION_END] = verE;
    rows[o + R_BUILD] = buildS;
    rows[o + R_BUILD_END] = buildE;
    rows[o + R_TRACK] = track;
    rows[o + R_DEPENDS] = depS;
    rows[o + R_DEPENDS_END] = depE;
    rows[o + R_FULL] = full ? 1 : 0;
    const n = (this.count - 1) * NUMS;
    this.nums[n + N_BUILD_NUMBER] = buildNumber;
    this.nums[n + N_TIMESTAMP] = timestamp;
  }

  /** A `{ "<file name>": record, ... }` group: returns its row range. */
  group(): [number, number] {
    const from = this.count;
    this.expect(LB, "'{' of a package group");
    this.ws();
    if (this.b[this.i] === RB) {
      this.i++;
      return [from, from];
    }
    // Repeated file names (RFC 8259 leaves duplicate names unspecified; JSON.parse keeps the
    // last) each keep their record here: checking for them costs 15% of the scan.
    for (;;) {
      this.ws();
      if (this.b[this.i] !== Q) this.fail("a file name");
      const close = this.stringEnd();
      const fnStart = this.i + 1;
      this.i = close + 1;
      this.expect(COLON, "':' after a file name");
      this.record(fnStart, close, false);
      this.ws();
      const c = this.b[this.i++];
      if (c === COMMA) continue;
      if (c === RB) return [from, this.count];
      this.i--;
      this.fail("',' or '}' in a package group");
    }
  }

  /** A top-level key (decoded). */
  key(): string {
    this.ws();
    if (this.b[this.i] !== Q) this.fail("a key");
    const close = this.stringEnd();
    const raw = this.b.subarray(this.i, close + 1);
    this.i = close + 1;
    return JSON.parse(new TextDecoder().decode(raw)) as string;
  }
}

/**
 * Scan repodata.json bytes (UTF-8, an optional BOM is skipped). Every record of the last
 * `packages` and `packages.conda` groups gets a row; other top-level keys are skipped.
 */
export function scanRepodata(bytes: Uint8Array): RepodataScan {
  const sc = new Scanner(bytes);
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) sc.i = 3;
  let packages: readonly [number, number] = [0, 0];
  let conda: readonly [number, number] = [0, 0];
  sc.expect(LB, "'{' at the start");
  sc.ws();
  if (bytes[sc.i] !== RB) {
    for (;;) {
      const key = sc.key();
      sc.expect(COLON, "':'");
      sc.ws();
      if (key === "packages" || key === "packages.conda") {
        // a later occurrence wins, as in JSON.parse; an array is left to the full parse
        if (bytes[sc.i] === LS) sc.fail("a package group object");
        let range: readonly [number, number] = [0, 0];
        if (bytes[sc.i] === LB) range = sc.group();
        else sc.skipValue();
        if (key === "packages") packages = range;
        else conda = range;
      } else sc.skipValue();
      sc.ws();
      const c = bytes[sc.i++];
      if (c === COMMA) continue;
      if (c === RB) break;
      sc.i--;
      sc.fail("',' or '}' at the top level");
    }
  } else sc.i++;
  sc.ws();
  if (sc.i !== bytes.length) sc.fail("the end of the document");
  return { rows: sc.rows, nums: sc.nums, count: sc.count, lastQuote: sc.lastQuote, packages, conda };
}

/**
 * Fill every field slot of one row of `scan` (see {@link R_FULL}) by scanning that record's
 * bytes again. The record's bytes were already walked by the document scan, so this cannot fail
 * on valid JSON; on anything else it throws like {@link scanRepodata}.
 */
export function scanRecordFields(bytes: Uint8Array, scan: RepodataScan, row: number): void {
  const o = row * ROW;
  if (scan.rows[o + R_FULL] === 1) return;
  const sc = new Scanner(bytes, scan);
  sc.count = row;
  sc.i = scan.rows[o + R_START] as number;
  sc.record(scan.rows[o + R_FN] as number, scan.rows[o + R_FN_END] as number, true);
}
