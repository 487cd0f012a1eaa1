import { preview, ResolverError, ResolverErrorCode } from "../errors";

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

const str = (v: unknown): string => (typeof v === "string" ? v : "");
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
  const base = options.channel.replace(/\/+$/, "");
  const out: CondaRecord[] = [];
  const seen = new Set<string>();
  const add = (group: unknown) => {
    if (typeof group !== "object" || group === null) return;
    for (const [fn, raw] of Object.entries(group as Record<string, unknown>)) {
      if (typeof raw !== "object" || raw === null) continue;
      const r = raw as Record<string, unknown>;
      const name = str(r.name);
      const version = str(r.version);
      if (!name || !version) continue;
      const build = str(r.build);
      const key = `${name}\0${version}\0${build}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const rec: CondaRecord = {
        name,
        version,
        build,
        buildNumber: typeof r.build_number === "number" ? r.build_number : 0,
        depends: strs(r.depends),
        constrains: strs(r.constrains),
        trackFeatures: features(r.track_features),
        timestamp:
          typeof r.timestamp === "number" ? (r.timestamp > 1e11 ? r.timestamp : r.timestamp * 1000) : 0,
        channel: base,
        subdir: options.subdir,
        fn,
        url: `${base}/${options.subdir}/${encodeURIComponent(fn)}`,
      };
      if (typeof r.md5 === "string") rec.md5 = r.md5;
      if (typeof r.sha256 === "string") rec.sha256 = r.sha256;
      if (typeof r.size === "number") rec.size = r.size;
      if (typeof r.noarch === "string") rec.noarch = r.noarch;
      out.push(rec);
    }
  };
  add(d["packages.conda"]);
  add(d.packages);
  return out;
}
