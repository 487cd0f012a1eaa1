/**
 * A structural scanner for repodata.json: finds every record of `packages` / `packages.conda`
 * (its file name, byte range, name, version and build) without building the whole object
 * graph, so only the records a solve touches are ever parsed. Throws on anything it does not
 * expect; callers then fall back to JSON.parse.
 */
export interface ScannedRecord {
  fn: string;
  start: number;
  end: number;
  name: string;
  version: string;
  build: string;
}

export interface ScannedRepodata<T = ScannedRecord> {
  packages: T[];
  condaPackages: T[];
}

/** Builds the caller's record straight from the scan (no intermediate object); null skips it. */
export type MakeRecord<T> = (
  fn: string,
  start: number,
  end: number,
  name: string,
  version: string,
  build: string,
) => T | null;

const scannedRecord: MakeRecord<ScannedRecord> = (fn, start, end, name, version, build) => ({
  fn,
  start,
  end,
  name,
  version,
  build,
});

const Q = 34; // "
const BS = 92; // \
const LB = 123; // {
const RB = 125; // }
const LS = 91; // [
const RS = 93; // ]
const COLON = 58;
const COMMA = 44;

class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new Error(`repodata scan: expected ${what} at offset ${this.i}`);
  }

  ws(): void {
    const s = this.s;
    let c = s.charCodeAt(this.i);
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++this.i);
  }

  /** Position just after the closing quote of the string starting at `this.i`. */
  skipString(): number {
    const s = this.s;
    let j = this.i + 1;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q < 0) this.fail("a closing quote");
      let k = q - 1;
      while (s.charCodeAt(k) === BS) k--;
      if ((q - k - 1) % 2 === 0) return q + 1;
      j = q + 1;
    }
  }

  string(): string {
    if (this.s.charCodeAt(this.i) !== Q) this.fail("a string");
    const start = this.i;
    const end = this.skipString();
    this.i = end;
    const raw = this.s.slice(start + 1, end - 1);
    return raw.includes("\\") ? (JSON.parse(this.s.slice(start, end)) as string) : raw;
  }

  expect(c: number, what: string): void {
    this.ws();
    if (this.s.charCodeAt(this.i) !== c) this.fail(what);
    this.i++;
  }

  /** Skip any JSON value (structure only). */
  skipValue(): void {
    const s = this.s;
    this.ws();
    const c = s.charCodeAt(this.i);
    if (c === Q) {
      this.i = this.skipString();
      return;
    }
    if (c === LB || c === LS) {
      let depth = 0;
      for (;;) {
        const d = s.charCodeAt(this.i);
        if (d === Q) {
          this.i = this.skipString();
          continue;
        }
        if (d === LB || d === LS) depth++;
        else if (d === RB || d === RS) {
          depth--;
          if (depth === 0) {
            this.i++;
            return;
          }
        } else if (Number.isNaN(d)) this.fail("the end of a value");
        this.i++;
      }
    }
    // number, true, false, null
    while (this.i < s.length) {
      const d = s.charCodeAt(this.i);
      if (d === COMMA || d === RB || d === RS || d === 32 || d === 10 || d === 13 || d === 9) return;
      this.i++;
    }
  }

  /** A record object: its extent and the top-level name/version/build strings. */
  record<T>(fn: string, make: MakeRecord<T>): T | null {
    this.ws();
    const start = this.i;
    if (this.s.charCodeAt(this.i) !== LB) this.fail("a record object");
    this.i++;
    let name = "";
    let version = "";
    let build = "";
    this.ws();
    if (this.s.charCodeAt(this.i) === RB) {
      this.i++;
      return make(fn, start, this.i, name, version, build);
    }
    const s = this.s;
    for (;;) {
      this.ws();
      if (s.charCodeAt(this.i) !== Q) this.fail("a key");
      // compare keys in place: no substring per key
      const k1 = s.charCodeAt(this.i + 1);
      const field =
        k1 === 110 /* n */ && s.startsWith('"name"', this.i)
          ? 1
          : k1 === 118 /* v */ && s.startsWith('"version"', this.i)
            ? 2
            : k1 === 98 /* b */ && s.startsWith('"build"', this.i)
              ? 3
              : 0;
      this.i = this.skipString();
      this.expect(COLON, "':'");
      this.ws();
      if (field !== 0 && s.charCodeAt(this.i) === Q) {
        const v = this.string();
        if (field === 1) name = v;
        else if (field === 2) version = v;
        else build = v;
      } else this.skipValue();
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === COMMA) continue;
      if (c === RB) break;
      this.i--;
      this.fail("',' or '}' in a record");
    }
    return make(fn, start, this.i, name, version, build);
  }

  group<T>(make: MakeRecord<T>): T[] {
    const out: T[] = [];
    this.expect(LB, "'{' of a package group");
    this.ws();
    if (this.s.charCodeAt(this.i) === RB) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      const fn = this.string();
      this.expect(COLON, "':'");
      const r = this.record(fn, make);
      if (r !== null) out.push(r);
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === COMMA) continue;
      if (c === RB) return out;
      this.i--;
      this.fail("',' or '}' in a package group");
    }
  }
}

export function scanRepodata(text: string): ScannedRepodata;
export function scanRepodata<T>(text: string, make: MakeRecord<T>): ScannedRepodata<T>;
export function scanRepodata<T>(
  text: string,
  make: MakeRecord<T> = scannedRecord as unknown as MakeRecord<T>,
): ScannedRepodata<T> {
  const sc = new Scanner(text);
  const result: ScannedRepodata<T> = { packages: [], condaPackages: [] };
  sc.expect(LB, "'{' at the start");
  sc.ws();
  if (text.charCodeAt(sc.i) === RB) return result;
  for (;;) {
    sc.ws();
    const key = sc.string();
    sc.expect(COLON, "':'");
    sc.ws();
    if (key === "packages" && text.charCodeAt(sc.i) === LB) result.packages = sc.group(make);
    else if (key === "packages.conda" && text.charCodeAt(sc.i) === LB) result.condaPackages = sc.group(make);
    else sc.skipValue();
    sc.ws();
    const c = text.charCodeAt(sc.i++);
    if (c === COMMA) continue;
    if (c === RB) break;
    sc.i--;
    sc.fail("',' or '}' at the top level");
  }
  sc.ws();
  if (sc.i !== text.length) sc.fail("the end of the document");
  return result;
}
