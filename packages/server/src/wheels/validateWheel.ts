import { createHash } from "node:crypto";
import { canonicalizeName } from "@mlenv/core";
import { received, WheelError, WheelErrorCodes } from "./errors";
import { parseWheelFilename, type WheelFilename } from "./wheelFilename";
import { bytesZipSource, ZipArchive, type ZipLimits, type ZipSource } from "./zipArchive";

/** What validation learned about a wheel; everything the index needs to list it. */
export interface ValidatedWheel {
  file: WheelFilename;
  /** `Name` from METADATA, as written. */
  name: string;
  /** `Version` from METADATA. */
  version: string;
  requiresPython: string | null;
  requiresDist: string[];
  summary: string | null;
  /** The METADATA file's bytes (served as the PEP 658 `.metadata` file). */
  metadata: Uint8Array;
  /** Hex SHA-256 of METADATA. */
  metadataSha256: string;
  /** Hex SHA-256 of the whole wheel. */
  sha256: string;
  size: number;
}

/** Parse RFC 822-style core metadata headers (continuation lines folded, body ignored). */
export function parseCoreMetadata(text: string): Map<string, string[]> {
  const headers = new Map<string, string[]>();
  let last: { key: string; index: number } | null = null;
  for (const line of text.split(/\r?\n/)) {
    if (line === "") break;
    if (/^[ \t]/.test(line) && last) {
      const values = headers.get(last.key)!;
      values[last.index] = `${values[last.index]}\n${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new WheelError(
        WheelErrorCodes.metadataInvalid,
        `Expected METADATA header lines like "Name: my-pkg", received "${received(line)}"`,
      );
    }
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const values = headers.get(key) ?? [];
    values.push(value);
    headers.set(key, values);
    last = { key, index: values.length - 1 };
  }
  return headers;
}

/** Minimal CSV reader for RECORD (quoted fields with doubled quotes, commas inside quotes). */
function parseRecordCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine === "") continue;
    const fields: string[] = [];
    let i = 0;
    while (i <= rawLine.length) {
      if (rawLine[i] === '"') {
        let value = "";
        i++;
        while (i < rawLine.length) {
          if (rawLine[i] === '"') {
            if (rawLine[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          value += rawLine[i];
          i++;
        }
        fields.push(value);
        i++; // skip the comma
      } else {
        const next = rawLine.indexOf(",", i);
        const end = next < 0 ? rawLine.length : next;
        fields.push(rawLine.slice(i, end));
        i = end + 1;
      }
    }
    rows.push(fields);
  }
  return rows;
}

const HASH_ALGOS: Record<string, string> = { sha256: "sha256", sha384: "sha384", sha512: "sha512" };

function metadataError(message: string): WheelError {
  return new WheelError(WheelErrorCodes.metadataInvalid, message);
}

/**
 * Check that `bytes` named `filename` is a real wheel: a safe PEP 427 name, a sound zip within
 * the limits, exactly one `*.dist-info` with METADATA (Name/Version matching the file name),
 * WHEEL (version 1.x) and RECORD listing every member with a matching sha256 (or stronger) hash.
 * Throws a {@link WheelError}; never writes anything.
 */
export function validateWheel(
  filename: string,
  bytes: Uint8Array,
  limits: Partial<ZipLimits> = {},
): ValidatedWheel {
  return validateWheelSource(filename, bytesZipSource(bytes), limits, {
    sha256: createHash("sha256").update(bytes).digest("hex"),
  });
}

/**
 * {@link validateWheel} over random access to the archive (e.g. {@link fileZipSource} over an
 * uploaded temp file): memory stays bounded by the largest METADATA/WHEEL/RECORD plus 1 MiB
 * pieces, whatever the wheel's size. `known.sha256` is the whole file's hash, computed by the
 * caller while the bytes arrived.
 */
export function validateWheelSource(
  filename: string,
  source: ZipSource,
  limits: Partial<ZipLimits>,
  known: { sha256: string },
): ValidatedWheel {
  const file = parseWheelFilename(filename);
  const zip = new ZipArchive(source, limits);

  const distInfos = new Set<string>();
  for (const e of zip.entries) {
    const top = e.name.split("/")[0]!;
    if (top.endsWith(".dist-info") && e.name.includes("/")) distInfos.add(top);
  }
  if (distInfos.size !== 1) {
    throw metadataError(
      `Expected exactly one "<name>-<version>.dist-info/" directory (e.g. "my_pkg-1.0.dist-info/"), received ${distInfos.size === 0 ? "none" : [...distInfos].map((d) => `"${received(d)}"`).join(", ")}`,
    );
  }
  const distInfo = [...distInfos][0]!;
  const need = (leaf: string) => {
    const entry = zip.get(`${distInfo}/${leaf}`);
    if (!entry)
      throw metadataError(`Expected "${received(distInfo)}/${leaf}" in the wheel, but it is missing`);
    return entry;
  };
  const metadataEntry = need("METADATA");
  const wheelEntry = need("WHEEL");
  const recordEntry = need("RECORD");

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const text = (data: Uint8Array, what: string) => {
    try {
      return decoder.decode(data);
    } catch (cause) {
      throw new WheelError(
        WheelErrorCodes.metadataInvalid,
        `Expected ${what} to be UTF-8 text, but it is not`,
        { cause },
      );
    }
  };

  const metadata = zip.read(metadataEntry);
  const headers = parseCoreMetadata(text(metadata, "METADATA"));
  const name = headers.get("name")?.[0];
  const version = headers.get("version")?.[0];
  if (!name || !version) {
    throw metadataError(
      `Expected METADATA to have "Name:" and "Version:" headers, received headers: ${received([...headers.keys()].join(", "))}`,
    );
  }
  if (canonicalizeName(name) !== file.project) {
    throw new WheelError(
      WheelErrorCodes.metadataMismatch,
      `Expected METADATA Name to match the file name's "${file.distribution}" (${file.project}), received "${received(name)}"`,
      { details: { filename, metadataName: received(name) } },
    );
  }
  if (version.replace(/-/g, "_").toLowerCase() !== file.version.toLowerCase()) {
    throw new WheelError(
      WheelErrorCodes.metadataMismatch,
      `Expected METADATA Version to match the file name's "${file.version}", received "${received(version)}"`,
      { details: { filename, metadataVersion: received(version) } },
    );
  }
  const distPrefix = distInfo.slice(0, -".dist-info".length);
  const dash = distPrefix.lastIndexOf("-");
  if (dash <= 0 || canonicalizeName(distPrefix.slice(0, dash)) !== file.project) {
    throw new WheelError(
      WheelErrorCodes.metadataMismatch,
      `Expected the dist-info directory to be "${file.distribution}-${file.version}.dist-info", received "${received(distInfo)}"`,
    );
  }

  const wheelHeaders = parseCoreMetadata(text(zip.read(wheelEntry), "WHEEL"));
  const wheelVersion = wheelHeaders.get("wheel-version")?.[0] ?? "";
  if (!/^1\.\d+$/.test(wheelVersion)) {
    throw metadataError(
      `Expected WHEEL to declare "Wheel-Version: 1.0", received "${received(wheelVersion)}"`,
    );
  }

  // RECORD must account for every member, with hashes that match.
  const recordName = `${distInfo}/RECORD`;
  const unsigned = new Set([recordName, `${distInfo}/RECORD.jws`, `${distInfo}/RECORD.p7s`]);
  const recorded = new Map<string, { hash: string; size: string }>();
  for (const row of parseRecordCsv(text(zip.read(recordEntry), "RECORD"))) {
    const [path, hash = "", size = ""] = row;
    if (path === undefined || path === "") continue;
    recorded.set(path, { hash, size });
  }
  for (const entry of zip.entries) {
    if (entry.isDirectory || unsigned.has(entry.name)) continue;
    const rec = recorded.get(entry.name);
    if (!rec) {
      throw new WheelError(
        WheelErrorCodes.recordMismatch,
        `Expected RECORD to list every file, but "${received(entry.name)}" is not in it`,
        {
          details: { member: received(entry.name) },
        },
      );
    }
    const eq = rec.hash.indexOf("=");
    const algo = HASH_ALGOS[rec.hash.slice(0, eq)];
    if (eq < 0 || !algo) {
      throw new WheelError(
        WheelErrorCodes.recordMismatch,
        `Expected a sha256 (or stronger) hash in RECORD for "${received(entry.name)}" (e.g. "sha256=<urlsafe-base64>"), received "${received(rec.hash)}"`,
      );
    }
    const { digest, size } = zip.digest(entry, algo);
    if (digest !== rec.hash.slice(eq + 1).replace(/=+$/, "")) {
      throw new WheelError(
        WheelErrorCodes.recordMismatch,
        `Expected "${received(entry.name)}" to match its RECORD hash, but it does not`,
        {
          details: { member: received(entry.name) },
        },
      );
    }
    if (rec.size !== "" && rec.size !== String(size)) {
      throw new WheelError(
        WheelErrorCodes.recordMismatch,
        `Expected "${received(entry.name)}" to be ${received(rec.size)} bytes as RECORD says, received ${size} bytes`,
      );
    }
    recorded.delete(entry.name);
  }
  for (const path of recorded.keys()) {
    if (unsigned.has(path)) continue;
    throw new WheelError(
      WheelErrorCodes.recordMismatch,
      `Expected every RECORD entry to be in the wheel, but "${received(path)}" is missing`,
    );
  }

  return {
    file,
    name,
    version,
    requiresPython: headers.get("requires-python")?.[0] ?? null,
    requiresDist: headers.get("requires-dist") ?? [],
    summary: headers.get("summary")?.[0] ?? null,
    metadata,
    metadataSha256: createHash("sha256").update(metadata).digest("hex"),
    sha256: known.sha256,
    size: source.size,
  };
}
