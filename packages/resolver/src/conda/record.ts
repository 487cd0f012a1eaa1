import { preview, ResolverError, ResolverErrorCode } from "../errors";
import {
  N_BUILD_NUMBER,
  N_TIMESTAMP,
  NUMS,
  R_BUILD,
  R_BUILD_END,
  R_DEPENDS,
  R_DEPENDS_END,
  R_END,
  R_FN,
  R_FN_END,
  R_NAME,
  R_NAME_END,
  R_START,
  R_TRACK,
  R_VERSION,
  R_VERSION_END,
  type RepodataScan,
  ROW,
  scanRecordFields,
  scanRepodata,
} from "./scan";

/** One package record of a conda channel subdir. */
export interface CondaRecord {
  name: string;
  version: string;
  build: string;
  buildNumber: number;
  depends: string[];
  constrains: string[];
  trackFeatures: string[];
  timestamp: number;
  /** Channel URL (or `file://` URL of a local channel). */
  channel: string;
  subdir: string;
  /** Artifact file name, e.g. `numpy-1.26.4-py312h1_0.conda`. */
  fn: string;
  url: string;
  md5?: string;
  sha256?: string;
  size?: number;
  noarch?: string;
}

interface Raw {
  name: string;
  version: string;
  build?: unknown;
  build_number?: unknown;
  depends?: unknown;
  constrains?: unknown;
  track_features?: unknown;
  timestamp?: unknown;
  md5?: unknown;
  sha256?: unknown;
  size?: unknown;
  noarch?: unknown;
}

/** Where a lazily read record's JSON lives: the repodata bytes (UTF-8). */
export interface RepodataBytes {
  readonly bytes: Buffer;
}

/**
 * Node's Buffer has `utf8Slice`/`latin1Slice` (what `toString` dispatches to, without its
 * argument handling); used when present, since a solve decodes a few thousand short slices.
 */
type SliceBuffer = Buffer & {
  utf8Slice?(start: number, end: number): string;
  latin1Slice?(start: number, end: number): string;
};
const directSlices =
  typeof (Buffer.prototype as SliceBuffer).utf8Slice === "function" &&
  typeof (Buffer.prototype as SliceBuffer).latin1Slice === "function";

const decode = (doc: RepodataBytes, start: number, end: number): string =>
  directSlices
    ? ((doc.bytes as SliceBuffer).utf8Slice as (s: number, e: number) => string).call(doc.bytes, start, end)
    : doc.bytes.toString("utf8", start, end);

/** A short string's bytes: ASCII decodes as latin1 (no UTF-8 pass). */
const decodeAscii = (doc: RepodataBytes, start: number, end: number): string =>
  directSlices
    ? ((doc.bytes as SliceBuffer).latin1Slice as (s: number, e: number) => string).call(doc.bytes, start, end)
    : doc.bytes.toString("latin1", start, end);

/** A record read straight from repodata: fields are derived on access, so parsing stays cheap. */
export class RepodataRecord implements CondaRecord {
  private tf: string[] | undefined;
  private deps: string[] | undefined;
  // Positional on purpose: built in the hot path of a solve.
  constructor(
    /** The record object when already parsed (otherwise parsed from the scanned bytes on first use). */
    private parsed: Raw | undefined,
    private doc: RepodataBytes | undefined,
    /** The scan that found the record, and its row there (unused when `parsed` is given). */
    private scan: RepodataScan | undefined,
    private readonly row: number,
    readonly fn: string,
    readonly channel: string,
    readonly subdir: string,
    readonly name: string,
    readonly version: string,
    readonly build: string,
  ) {}
  private slot(slot: number): number {
    return (this.scan as RepodataScan).rows[this.row * ROW + slot] as number;
  }
  /** A scanned number (NaN when the scan left it to the parse). */
  private num(slot: number): number {
    return this.scan ? (this.scan.nums[this.row * NUMS + slot] as number) : Number.NaN;
  }
  private get raw(): Raw {
    if (this.parsed) return this.parsed;
    const text = decode(this.doc as RepodataBytes, this.slot(R_START), this.slot(R_END));
    try {
      const v = JSON.parse(text) as unknown;
      if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
      this.parsed = v as Raw;
    } catch (cause) {
      throw new ResolverError(
        ResolverErrorCode.REPODATA_INVALID,
        `record ${this.fn} in ${this.channel}/${this.subdir} is not valid JSON: expected an object like {"name": ..., "version": ...}; received ${preview(text.slice(0, 200))}`,
        { cause },
      );
    }
    return this.parsed;
  }
  /**
   * Parse the whole record now and let go of the repodata bytes and scan (a solve that reuses
   * its response buffers detaches the records it returns).
   */
  detach(): void {
    if (!this.parsed) void this.raw;
    this.doc = undefined;
    this.scan = undefined;
  }
  get buildNumber(): number {
    const scanned = this.num(N_BUILD_NUMBER);
    if (!Number.isNaN(scanned)) return scanned;
    return typeof this.raw.build_number === "number" ? this.raw.build_number : 0;
  }
  /** repodata spelling, for MatchSpec matching */
  get build_number(): number {
    return this.buildNumber;
  }
  get track_features(): string[] {
    return this.trackFeatures;
  }
  get depends(): string[] {
    if (!this.deps) this.deps = strs(this.parsed || !this.scan ? this.raw.depends : this.scannedDepends());
    return this.deps;
  }
  /** Only the `depends` array is parsed (the build-order tie-break reads it for many records). */
  private scannedDepends(): unknown {
    const start = this.slot(R_DEPENDS);
    if (start === -1) return undefined;
    if (start >= 0) {
      try {
        return JSON.parse(decode(this.doc as RepodataBytes, start, this.slot(R_DEPENDS_END)));
      } catch {
        // malformed: the whole record's parse reports it
      }
    }
    return this.raw.depends;
  }
  get constrains(): string[] {
    return strs(this.raw.constrains);
  }
  get trackFeatures(): string[] {
    if (!this.tf) this.tf = this.scan && this.slot(R_TRACK) === 0 ? [] : features(this.raw.track_features);
    return this.tf;
  }
  get timestamp(): number {
    const scanned = this.num(N_TIMESTAMP);
    const t = Number.isNaN(scanned) ? this.raw.timestamp : scanned;
    return typeof t === "number" ? (t > 1e11 ? t : t * 1000) : 0;
  }
  get url(): string {
    return `${this.channel}/${this.subdir}/${encodeURIComponent(this.fn)}`;
  }
  get md5(): string | undefined {
    return typeof this.raw.md5 === "string" ? this.raw.md5 : undefined;
  }
  get sha256(): string | undefined {
    return typeof this.raw.sha256 === "string" ? this.raw.sha256 : undefined;
  }
  get size(): number | undefined {
    return typeof this.raw.size === "number" ? this.raw.size : undefined;
  }
  get noarch(): string | undefined {
    return typeof this.raw.noarch === "string" ? this.raw.noarch : undefined;
  }
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      version: this.version,
      build: this.build,
      buildNumber: this.buildNumber,
      depends: this.depends,
      constrains: this.constrains,
      trackFeatures: this.trackFeatures,
      timestamp: this.timestamp,
      channel: this.channel,
      subdir: this.subdir,
      fn: this.fn,
      url: this.url,
      md5: this.md5,
      sha256: this.sha256,
      size: this.size,
      noarch: this.noarch,
    };
  }
}

const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
const features = (v: unknown): string[] =>
  typeof v === "string" ? v.split(/[\s,]+/).filter(Boolean) : strs(v);

/** Records by package name: what a solve reads from a channel. */
export interface CondaRecordSource {
  /** The records of one package name (the solver orders them by preference). */
  recordsOf(name: string): readonly CondaRecord[];
  /** Every record. */
  all(): CondaRecord[];
}

/** A {@link CondaRecordSource} over records already in memory. */
export function recordSource(records: readonly CondaRecord[]): CondaRecordSource {
  let byName: Map<string, CondaRecord[]> | undefined;
  return {
    recordsOf(name) {
      if (!byName) {
        byName = new Map();
        for (const r of records) {
          const list = byName.get(r.name);
          if (list) list.push(r);
          else byName.set(r.name, [r]);
        }
      }
      return byName.get(name) ?? [];
    },
    all: () => [...records],
  };
}

/** Several sources read as one (a channel's subdir and its noarch). */
export function combineSources(sources: readonly CondaRecordSource[]): CondaRecordSource {
  if (sources.length === 1) return sources[0] as CondaRecordSource;
  return {
    recordsOf: (name) => sources.flatMap((s) => s.recordsOf(name)),
    all: () => sources.flatMap((s) => s.all()),
  };
}

const BACKSLASH = 92;

/**
 * One subdir's repodata, scanned but not parsed: a record is built the first time its
 * package name is asked for. `.conda` artifacts win over `.tar.bz2` ones of the same package.
 */
class RepodataIndex implements CondaRecordSource {
  /** Package name -> group; a group's rows are linked in document order (heads/tails/next). */
  private readonly groupOf = new Map<string, number>();
  private readonly heads: number[] = [];
  private readonly tails: number[] = [];
  private readonly next: Int32Array;
  private readonly made: (RepodataRecord | null | undefined)[];
  /** 1 for rows that a name's record list kept (not a duplicate of a `.conda` record). */
  private readonly kept: Uint8Array;
  private readonly byName = new Map<string, RepodataRecord[]>();
  private readonly dedupe: boolean;

  constructor(
    private readonly doc: RepodataBytes,
    private readonly scan: RepodataScan,
    private readonly channel: string,
    private readonly subdir: string,
  ) {
    this.made = new Array(scan.count);
    this.kept = new Uint8Array(scan.count);
    this.next = new Int32Array(scan.count);
    this.dedupe = scan.conda[1] > scan.conda[0];
    const b = doc.bytes;
    const rows = scan.rows;
    const { heads, tails, next } = this;
    let prevS = -1;
    let prevLen = -1;
    let group = -1;
    for (const [from, to] of [scan.conda, scan.packages]) {
      for (let r = from; r < to; r++) {
        const o = r * ROW;
        const ns = rows[o + R_NAME] as number;
        const len = (rows[o + R_NAME_END] as number) - ns;
        // nameless entries are skipped (as a full parse skips them); versionless ones when read
        if (ns < 0 || len <= 0) continue;
        // records come sorted by file name, so a name is usually the previous record's: compare
        // bytes and decode only when it changes
        let same = len === prevLen;
        for (let k = 0; same && k < len; k++) same = b[ns + k] === b[prevS + k];
        if (!same) {
          const name = this.str(ns, ns + len);
          const known = this.groupOf.get(name);
          if (known === undefined) {
            group = heads.length;
            this.groupOf.set(name, group);
            heads.push(r);
            tails.push(r);
            next[r] = -1;
            prevS = ns;
            prevLen = len;
            continue;
          }
          group = known;
          prevS = ns;
          prevLen = len;
        }
        next[tails[group] as number] = r;
        next[r] = -1;
        tails[group] = r;
      }
    }
  }

  /** A string's contents between its quotes. */
  private str(start: number, end: number): string {
    const b = this.doc.bytes;
    let ascii = true;
    for (let k = start; k < end; k++) {
      const c = b[k] as number;
      if (c === BACKSLASH) return this.unescape(start, end);
      if (c >= 0x80) ascii = false;
    }
    return ascii ? decodeAscii(this.doc, start, end) : decode(this.doc, start, end);
  }

  private unescape(start: number, end: number): string {
    const raw = decode(this.doc, start - 1, end + 1);
    try {
      return JSON.parse(raw) as string;
    } catch (cause) {
      throw new ResolverError(
        ResolverErrorCode.REPODATA_INVALID,
        `repodata of ${this.channel}/${this.subdir} has an invalid string at byte ${start - 1}: expected JSON escapes such as \\n or \\u00e9; received ${preview(raw.slice(0, 200))}`,
        { cause },
      );
    }
  }

  /** The record of row `r`, or null when it has no version. */
  private make(r: number): RepodataRecord | null {
    const got = this.made[r];
    if (got !== undefined) return got;
    scanRecordFields(this.doc.bytes, this.scan, r);
    const rows = this.scan.rows;
    const o = r * ROW;
    const at = (slot: number) => rows[o + slot] as number;
    if (at(R_VERSION) < 0 || at(R_VERSION_END) <= at(R_VERSION)) {
      this.made[r] = null;
      return null;
    }
    const rec = new RepodataRecord(
      undefined,
      this.doc,
      this.scan,
      r,
      this.str(at(R_FN), at(R_FN_END)),
      this.channel,
      this.subdir,
      this.str(at(R_NAME), at(R_NAME_END)),
      this.str(at(R_VERSION), at(R_VERSION_END)),
      at(R_BUILD) < 0 ? "" : this.str(at(R_BUILD), at(R_BUILD_END)),
    );
    this.made[r] = rec;
    return rec;
  }

  /**
   * Where each name's records lie in the document, per group: `[from, to)` byte spans, each
   * covering one or more whole `"<file name>": {record}` members (neighbours merged when only a
   * comma and whitespace separate them). Enough to read one name's records again later from
   * the same bytes on disk without scanning the document ({@link indexedRepodataSource}).
   */
  spans(): RepodataSpans {
    const out: RepodataSpans = { names: [], conda: [], packages: [] };
    const b = this.doc.bytes;
    const rows = this.scan.rows;
    const [cFrom, cTo] = this.scan.conda;
    for (const [name, g] of this.groupOf) {
      const conda: number[] = [];
      const packages: number[] = [];
      for (let r = this.heads[g] as number; r >= 0; r = this.next[r] as number) {
        const list = r >= cFrom && r < cTo ? conda : packages;
        const from = (rows[r * ROW + R_FN] as number) - 1; // the file name's opening quote
        const to = rows[r * ROW + R_END] as number;
        const last = list.length - 1;
        if (last > 0 && onlyOneComma(b, list[last] as number, from)) list[last] = to;
        else list.push(from, to);
      }
      out.names.push(name);
      out.conda.push(conda);
      out.packages.push(packages);
    }
    return out;
  }

  recordsOf(name: string): readonly CondaRecord[] {
    const got = this.byName.get(name);
    if (got) return got;
    const out: RepodataRecord[] = [];
    const seen = this.dedupe ? new Set<string>() : null;
    const group = this.groupOf.get(name);
    for (
      let r = group === undefined ? -1 : (this.heads[group] as number);
      r >= 0;
      r = this.next[r] as number
    ) {
      const rec = this.make(r);
      if (!rec) continue;
      if (seen) {
        const key = `${rec.version}\0${rec.build}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      this.kept[r] = 1;
      out.push(rec);
    }
    this.byName.set(name, out);
    return out;
  }

  /** Every record, `.conda` group first, in document order. */
  all(): CondaRecord[] {
    for (const name of this.groupOf.keys()) this.recordsOf(name);
    const out: CondaRecord[] = [];
    for (const [from, to] of [this.scan.conda, this.scan.packages]) {
      for (let r = from; r < to; r++) if (this.kept[r] === 1) out.push(this.made[r] as RepodataRecord);
    }
    return out;
  }
}

/** Whether bytes [from, to) are whitespace around exactly one comma. */
function onlyOneComma(b: Uint8Array, from: number, to: number): boolean {
  let commas = 0;
  for (let i = from; i < to; i++) {
    const c = b[i];
    if (c === 44) commas++;
    else if (c !== 32 && c !== 10 && c !== 13 && c !== 9) return false;
  }
  return commas === 1;
}

/**
 * Per package name, the byte spans of its records in a repodata document (see
 * `RepodataIndex.spans`): parallel arrays, each span list flat as `[from, to, from, to, ...]`.
 */
export interface RepodataSpans {
  names: string[];
  conda: number[][];
  packages: number[][];
}

/** The spans of a source read by {@link repodataSource}, or null when it was parsed whole. */
export function repodataSpans(source: CondaRecordSource): RepodataSpans | null {
  return source instanceof RepodataIndex ? source.spans() : null;
}

/**
 * A {@link CondaRecordSource} over a repodata document on disk that is never read whole: the
 * records of a name are read from their byte spans (`read(from, to)`) the first time the name
 * is asked for, and parsed like {@link repodataSource} parses them.
 */
export function indexedRepodataSource(
  read: (spans: readonly number[]) => Buffer[],
  index: RepodataSpans,
  options: { channel: string; subdir: string; source?: string },
): CondaRecordSource {
  const at = new Map<string, number>();
  for (let i = 0; i < index.names.length; i++) at.set(index.names[i] as string, i);
  const byName = new Map<string, readonly CondaRecord[]>();
  const open = Buffer.from('{"packages.conda":{');
  const mid = Buffer.from('},"packages":{');
  const close = Buffer.from("}}");
  const comma = Buffer.from(",");
  const join = (parts: Buffer[]) => parts.flatMap((p, k) => (k ? [comma, p] : [p]));
  const recordsOf = (name: string): readonly CondaRecord[] => {
    const got = byName.get(name);
    if (got) return got;
    const i = at.get(name);
    let out: readonly CondaRecord[] = [];
    if (i !== undefined) {
      const conda = read(index.conda[i] as number[]);
      const packages = read(index.packages[i] as number[]);
      const doc = Buffer.concat([open, ...join(conda), mid, ...join(packages), close]);
      out = repodataSource(doc, options).recordsOf(name);
    }
    byName.set(name, out);
    return out;
  };
  return { recordsOf, all: () => index.names.flatMap((n) => recordsOf(n)) };
}

/**
 * Read a `repodata.json` document (`info`, `packages`, `packages.conda`) of one subdir as a
 * {@link CondaRecordSource}: scanned up front, each record parsed on first use. Documents the
 * scanner does not expect are parsed whole (and invalid JSON is reported with its source).
 */
export function repodataSource(
  input: Uint8Array | string,
  options: { channel: string; subdir: string; source?: string },
): CondaRecordSource {
  const base = options.channel.replace(/\/+$/, "");
  const bytes =
    typeof input === "string"
      ? Buffer.from(input, "utf8")
      : Buffer.isBuffer(input)
        ? input
        : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let scan: RepodataScan | null;
  try {
    scan = scanRepodata(bytes);
  } catch {
    scan = null; // unusual layout or invalid JSON: the full parser below decides
  }
  if (scan) {
    try {
      return new RepodataIndex({ bytes }, scan, base, options.subdir);
    } catch {
      // a package name the scan passed over is not valid JSON: the full parser reports it
    }
  }
  return recordSource(parseWhole(bytes, base, options));
}

/**
 * Parse a `repodata.json` document (`info`, `packages`, `packages.conda`) of one subdir.
 * `.conda` artifacts win over `.tar.bz2` ones of the same package.
 */
export function parseRepodata(
  input: Uint8Array | string,
  options: { channel: string; subdir: string; source?: string },
): CondaRecord[] {
  return repodataSource(input, options).all();
}

function parseWhole(
  bytes: Buffer,
  base: string,
  options: { subdir: string; source?: string },
): CondaRecord[] {
  let doc: unknown;
  const text = bytes.toString("utf8");
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (cause) {
    throw new ResolverError(
      ResolverErrorCode.REPODATA_INVALID,
      `${options.source ?? "repodata.json"} is not JSON: expected {"info": {...}, "packages": {...}}; received ${preview(text.slice(0, 200))}`,
      { cause },
    );
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new ResolverError(
      ResolverErrorCode.REPODATA_INVALID,
      `${options.source ?? "repodata.json"}: expected an object with "packages"; received ${preview(doc)}`,
    );
  }
  const d = doc as Record<string, unknown>;
  const out: CondaRecord[] = [];
  const conda = d["packages.conda"];
  const hasConda = typeof conda === "object" && conda !== null && Object.keys(conda).length > 0;
  const seen = hasConda ? new Set<string>() : null;
  const add = (group: unknown) => {
    if (typeof group !== "object" || group === null) return;
    const g = group as Record<string, unknown>;
    for (const fn in g) {
      const raw = g[fn];
      if (typeof raw !== "object" || raw === null) continue;
      const r = raw as Raw;
      if (typeof r.name !== "string" || typeof r.version !== "string" || !r.name || !r.version) continue;
      const build = typeof r.build === "string" ? r.build : "";
      if (seen) {
        const key = `${r.name}\0${r.version}\0${build}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      out.push(
        new RepodataRecord(r, undefined, undefined, 0, fn, base, options.subdir, r.name, r.version, build),
      );
    }
  };
  add(d["packages.conda"]);
  add(d.packages);
  return out;
}
