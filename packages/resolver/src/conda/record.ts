import { preview, ResolverError, ResolverErrorCode } from "../errors";
import { type ScannedRepodata, scanRepodata } from "./scan";

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

/** A record read straight from repodata: fields are derived on access, so parsing stays cheap. */
export class RepodataRecord implements CondaRecord {
  private tf: string[] | undefined;
  private deps: string[] | undefined;
  // Positional on purpose: one record per repodata entry is built in the hot parse loop.
  constructor(
    /** The record object when already parsed (otherwise parsed from text[start, end) on first use). */
    private parsed: Raw | undefined,
    private readonly text: string,
    private readonly start: number,
    private readonly end: number,
    readonly fn: string,
    readonly channel: string,
    readonly subdir: string,
    readonly name: string,
    readonly version: string,
    readonly build: string,
  ) {}
  private get raw(): Raw {
    if (this.parsed) return this.parsed;
    try {
      this.parsed = JSON.parse(this.text.slice(this.start, this.end)) as Raw;
    } catch (cause) {
      throw new ResolverError(
        ResolverErrorCode.REPODATA_INVALID,
        `record ${this.fn} in ${this.channel}/${this.subdir} is not valid JSON: expected an object like {"name": ..., "version": ...}; received ${preview(this.text.slice(this.start, Math.min(this.end, this.start + 200)))}`,
        { cause },
      );
    }
    return this.parsed;
  }
  get buildNumber(): number {
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
    if (!this.deps) this.deps = strs(this.raw.depends);
    return this.deps;
  }
  get constrains(): string[] {
    return strs(this.raw.constrains);
  }
  get trackFeatures(): string[] {
    if (!this.tf) this.tf = features(this.raw.track_features);
    return this.tf;
  }
  get timestamp(): number {
    const t = this.raw.timestamp;
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

/**
 * Parse a `repodata.json` document (`info`, `packages`, `packages.conda`) of one subdir.
 * `.conda` artifacts win over `.tar.bz2` ones of the same package.
 */
export function parseRepodata(
  text: string,
  options: { channel: string; subdir: string; source?: string },
): CondaRecord[] {
  const base = options.channel.replace(/\/+$/, "");
  let scanned: ScannedRepodata<RepodataRecord> | null = null;
  try {
    // records are built during the scan; nameless or versionless entries are skipped
    scanned = scanRepodata(text, (fn, start, end, name, version, build) =>
      name && version
        ? new RepodataRecord(undefined, text, start, end, fn, base, options.subdir, name, version, build)
        : null,
    );
  } catch {
    scanned = null; // unusual layout or invalid JSON: the full parser below decides
  }
  if (scanned) {
    if (!scanned.condaPackages.length) return scanned.packages;
    const out: RepodataRecord[] = [];
    const seen = new Set<string>();
    for (const group of [scanned.condaPackages, scanned.packages]) {
      for (const r of group) {
        const key = `${r.name}\0${r.version}\0${r.build}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(r);
      }
    }
    return out;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
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
      out.push(new RepodataRecord(r, "", 0, 0, fn, base, options.subdir, r.name, r.version, build));
    }
  };
  add(d["packages.conda"]);
  add(d.packages);
  return out;
}
