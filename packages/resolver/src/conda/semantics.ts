import { type CondaPackageRecord, CondaVersion, MatchSpec } from "@mlenv/core";
import type { CondaSemantics } from "./provider";
import { type CondaRecord, RepodataRecord } from "./record";

const views = new WeakMap<CondaRecord, CondaPackageRecord>();

/** The record as MatchSpec sees it (repodata field names). */
function view(r: CondaRecord): CondaPackageRecord {
  if (r instanceof RepodataRecord) return r as unknown as CondaPackageRecord;
  let v = views.get(r);
  if (!v) {
    v = {
      name: r.name,
      version: r.version,
      build: r.build,
      build_number: r.buildNumber,
      channel: r.channel,
      subdir: r.subdir,
      fn: r.fn,
      url: r.url,
      md5: r.md5 ?? null,
      sha256: r.sha256 ?? null,
      track_features: r.trackFeatures,
    };
    views.set(r, v);
  }
  return v;
}

/** conda MatchSpec matching and version ordering from @mlenv/core. */
export const defaultCondaSemantics: CondaSemantics = {
  parseMatchSpec(spec) {
    const m = MatchSpec.parse(spec);
    return { name: m.name, matches: (r) => m.match(view(r)) };
  },
  compareVersions: (a, b) => CondaVersion.parse(a).compare(CondaVersion.parse(b)),
};
