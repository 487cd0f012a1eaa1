import { createHash } from "node:crypto";
import { strToU8, zipSync } from "fflate";

/** What {@link buildWheel} puts into a wheel. Everything but `name` and `version` has a default. */
export interface BuildWheelOptions {
  /** Distribution name as written in METADATA (`My-Pkg`); the file name uses its escaped form. */
  name: string;
  version: string;
  /** PEP 427 build tag (must start with a digit), e.g. `"1"`. */
  buildTag?: string;
  pythonTag?: string;
  abiTag?: string;
  platformTag?: string;
  /** `Requires-Dist` lines, e.g. `["numpy>=1.20"]`. */
  requiresDist?: string[];
  /** `Requires-Python`, e.g. `">=3.8"`. */
  requiresPython?: string;
  summary?: string;
  /**
   * Files of the wheel's payload, path → contents. Default: one importable package named after
   * the distribution (`my_pkg/__init__.py`) whose `VALUE` is `"<name> <version>"`.
   */
  files?: Record<string, string | Uint8Array>;
  /** Override the Name/Version written into METADATA (to build mismatching wheels for tests). */
  metadataName?: string;
  metadataVersion?: string;
  /** Called with the final member map (RECORD already computed) before zipping: add/remove members. */
  mutate?: (members: Record<string, Uint8Array>) => void;
  /** Deflate level 0-9 (default 6). */
  level?: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
}

export interface BuiltWheel {
  /** The PEP 427 file name, e.g. `my_pkg-1.0-py3-none-any.whl`. */
  filename: string;
  bytes: Uint8Array<ArrayBuffer>;
  /** The METADATA file's text. */
  metadata: string;
  /** Lower-case hex SHA-256 of `bytes`. */
  sha256: string;
  /** The import name of the default module (`my_pkg`). */
  importName: string;
}

/** PEP 427 escaping of a distribution name for file names: runs of `-_.` become `_`. */
export function escapeWheelName(name: string): string {
  return name.replace(/[-_.]+/g, "_");
}

function recordHash(bytes: Uint8Array): string {
  return `sha256=${createHash("sha256").update(bytes).digest("base64url")}`;
}

/**
 * Build a REAL wheel (PEP 427) in memory: a zip holding the payload, `<name>-<version>.dist-info/`
 * with METADATA (Metadata-Version 2.1), WHEEL and RECORD (sha256 + size of every member).
 * pip installs it and Python imports it.
 */
export function buildWheel(options: BuildWheelOptions): BuiltWheel {
  const escaped = escapeWheelName(options.name);
  const importName = escaped.toLowerCase();
  const tags = [options.pythonTag ?? "py3", options.abiTag ?? "none", options.platformTag ?? "any"];
  const parts = [escaped, options.version];
  if (options.buildTag !== undefined) parts.push(options.buildTag);
  const filename = `${[...parts, ...tags].join("-")}.whl`;
  const distInfo = `${escaped}-${options.version}.dist-info`;

  const metadataLines = [
    "Metadata-Version: 2.1",
    `Name: ${options.metadataName ?? options.name}`,
    `Version: ${options.metadataVersion ?? options.version}`,
    `Summary: ${options.summary ?? `Test wheel ${options.name}`}`,
  ];
  if (options.requiresPython !== undefined) metadataLines.push(`Requires-Python: ${options.requiresPython}`);
  for (const req of options.requiresDist ?? []) metadataLines.push(`Requires-Dist: ${req}`);
  const metadata = `${metadataLines.join("\n")}\n\n`;
  const wheelFile = [
    "Wheel-Version: 1.0",
    "Generator: mlenv-test-utils",
    "Root-Is-Purelib: true",
    `Tag: ${tags.join("-")}`,
    "",
  ].join("\n");

  const payload = options.files ?? {
    [`${importName}/__init__.py`]: `VALUE = ${JSON.stringify(`${options.name} ${options.version}`)}\n`,
  };
  const members: Record<string, Uint8Array> = {};
  for (const [path, content] of Object.entries(payload)) {
    members[path] = typeof content === "string" ? strToU8(content) : content;
  }
  members[`${distInfo}/METADATA`] = strToU8(metadata);
  members[`${distInfo}/WHEEL`] = strToU8(wheelFile);
  const recordLines = Object.entries(members).map(
    ([path, bytes]) => `${path},${recordHash(bytes)},${bytes.length}`,
  );
  recordLines.push(`${distInfo}/RECORD,,`);
  members[`${distInfo}/RECORD`] = strToU8(`${recordLines.join("\n")}\n`);
  options.mutate?.(members);

  // A fixed date keeps the bytes reproducible: same options, same wheel, same hash.
  const mtime = new Date(Date.UTC(2020, 0, 1));
  const zippable: Record<string, [Uint8Array, { mtime: Date }]> = {};
  for (const [path, bytes] of Object.entries(members)) zippable[path] = [bytes, { mtime }];
  const bytes = zipSync(zippable, { level: options.level ?? 6 });
  return {
    filename,
    bytes,
    metadata,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    importName,
  };
}
