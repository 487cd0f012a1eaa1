import { preview, ResolverError, ResolverErrorCode } from "../errors";

/** The fields of core metadata (PKG-INFO / METADATA) the resolver needs. */
export interface CoreMetadata {
  name: string;
  version: string;
  requiresDist: string[];
  requiresPython?: string;
  providesExtra: string[];
}

/** Parse core metadata (RFC 822-style headers, continuation lines, body after a blank line). */
export function parseCoreMetadata(text: string, source = "METADATA"): CoreMetadata {
  const headers: [string, string][] = [];
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (/^[ \t]/.test(line) && headers.length) {
      const last = headers[headers.length - 1] as [string, string];
      last[1] += `\n${line.trim()}`;
      continue;
    }
    const i = line.indexOf(":");
    if (i <= 0) continue;
    headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  const all = (k: string) => headers.filter(([h]) => h === k).map(([, v]) => v);
  const name = all("name")[0];
  const version = all("version")[0];
  if (!name || !version) {
    throw new ResolverError(
      ResolverErrorCode.METADATA_INVALID,
      `${source}: expected "Name:" and "Version:" headers, e.g. "Name: numpy"; received ${preview(text.slice(0, 200))}`,
    );
  }
  const out: CoreMetadata = {
    name,
    version,
    requiresDist: all("requires-dist"),
    providesExtra: all("provides-extra"),
  };
  const rp = all("requires-python")[0];
  if (rp) out.requiresPython = rp;
  return out;
}
