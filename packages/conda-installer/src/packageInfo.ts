import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { safeRelativePath } from "./archive";
import { CondaInstallError, CondaInstallErrorCode, preview } from "./errors";

/** conda's default prefix placeholder (used by `info/has_prefix` lines that name only a path). */
export const DEFAULT_PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3";

/** One entry of `info/paths.json`. */
export interface PackagePath {
  /** Path inside the package (and, before noarch relocation, inside the prefix). */
  path: string;
  pathType: "hardlink" | "softlink" | "directory";
  sha256?: string;
  sizeInBytes?: number;
  /** The build prefix recorded in the file, to replace with the prefix. */
  prefixPlaceholder?: string;
  fileMode?: "text" | "binary";
  /** Always copy, never hard link. */
  noLink?: boolean;
}

/** What a package says about itself: `info/index.json`, `info/paths.json` (or the old files), `info/link.json`. */
export interface PackageInfo {
  index: Record<string, unknown>;
  paths: PackagePath[];
  /** `noarch: python` packages are relocated into the prefix's Python. */
  noarchPython: boolean;
  /** `name = module:function` lines from `info/link.json`. */
  entryPoints: string[];
}

function readJson(file: string, label: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new CondaInstallError(
      CondaInstallErrorCode.ARCHIVE_INVALID,
      `${label}: ${file.split("/").slice(-2).join("/")} is not valid JSON: ${(cause as Error).message}`,
      { package: label, cause },
    );
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new CondaInstallError(
      CondaInstallErrorCode.ARCHIVE_INVALID,
      `${label}: expected ${file.split("/").slice(-2).join("/")} to be a JSON object; received ${preview(v)}`,
      { package: label },
    );
  }
  return v as Record<string, unknown>;
}

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
}

/** Split a `has_prefix` line: `placeholder mode path`, quoted parts allowed, or just `path`. */
function hasPrefixLine(
  line: string,
): { placeholder: string; mode: "text" | "binary"; path: string } | undefined {
  const parts = [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? "");
  if (parts.length === 1) return { placeholder: DEFAULT_PLACEHOLDER, mode: "text", path: parts[0] as string };
  if (parts.length === 3 && (parts[1] === "text" || parts[1] === "binary"))
    return { placeholder: parts[0] as string, mode: parts[1], path: parts[2] as string };
  return undefined;
}

/** Read a package extracted in the cache. Every path is checked to stay inside the prefix. */
export function readPackageInfo(dir: string, label: string): PackageInfo {
  const info = join(dir, "info");
  const index = readJson(join(info, "index.json"), label);
  const paths: PackagePath[] = [];
  if (existsSync(join(info, "paths.json"))) {
    const doc = readJson(join(info, "paths.json"), label);
    if (!Array.isArray(doc.paths)) {
      throw new CondaInstallError(
        CondaInstallErrorCode.ARCHIVE_INVALID,
        `${label}: info/paths.json must have a "paths" list like {"paths": [{"_path": "bin/x", "path_type": "hardlink"}], "paths_version": 1}`,
        { package: label },
      );
    }
    for (const raw of doc.paths as Record<string, unknown>[]) {
      const p = safeRelativePath(String(raw?._path ?? ""), label, "info/paths.json");
      const type = raw.path_type;
      if (type !== "hardlink" && type !== "softlink" && type !== "directory") {
        throw new CondaInstallError(
          CondaInstallErrorCode.PATH_TYPE_UNKNOWN,
          `${label}: info/paths.json gives ${p} the path_type ${preview(type)}; expected hardlink, softlink or directory`,
          { package: label },
        );
      }
      const entry: PackagePath = { path: p, pathType: type };
      if (typeof raw.sha256 === "string") entry.sha256 = raw.sha256;
      if (typeof raw.size_in_bytes === "number") entry.sizeInBytes = raw.size_in_bytes;
      if (typeof raw.prefix_placeholder === "string" && raw.prefix_placeholder) {
        entry.prefixPlaceholder = raw.prefix_placeholder;
        entry.fileMode = raw.file_mode === "binary" ? "binary" : "text";
      }
      if (raw.no_link === true) entry.noLink = true;
      paths.push(entry);
    }
  } else {
    // packages older than paths.json: info/files, info/has_prefix, info/no_link
    const prefixed = new Map<string, { placeholder: string; mode: "text" | "binary" }>();
    for (const line of lines(join(info, "has_prefix"))) {
      const parsed = hasPrefixLine(line);
      if (!parsed) {
        throw new CondaInstallError(
          CondaInstallErrorCode.ARCHIVE_INVALID,
          `${label}: info/has_prefix line ${preview(line)} is not "<placeholder> <text|binary> <path>" or "<path>"`,
          { package: label },
        );
      }
      prefixed.set(safeRelativePath(parsed.path, label, "info/has_prefix"), parsed);
    }
    const noLink = new Set(lines(join(info, "no_link")));
    for (const line of lines(join(info, "files"))) {
      const p = safeRelativePath(line, label, "info/files");
      const entry: PackagePath = { path: p, pathType: "hardlink" };
      const pre = prefixed.get(p);
      if (pre) {
        entry.prefixPlaceholder = pre.placeholder;
        entry.fileMode = pre.mode;
      }
      if (noLink.has(p)) entry.noLink = true;
      paths.push(entry);
    }
  }
  const linkJson = existsSync(join(info, "link.json")) ? readJson(join(info, "link.json"), label) : {};
  const noarchLink = (linkJson.noarch ?? {}) as Record<string, unknown>;
  const noarch = index.noarch;
  const noarchPython = noarch === "python" || noarchLink.type === "python";
  const entryPoints = Array.isArray(noarchLink.entry_points)
    ? noarchLink.entry_points.filter((e): e is string => typeof e === "string")
    : [];
  return { index, paths, noarchPython, entryPoints };
}

/** Where a package path goes in the prefix (`noarch: python` relocation). */
export function targetPath(path: string, noarchPython: boolean, sitePackages: string | undefined): string {
  if (!noarchPython) return path;
  if (path.startsWith("site-packages/")) return `${sitePackages}/${path.slice("site-packages/".length)}`;
  if (path.startsWith("python-scripts/")) return `bin/${path.slice("python-scripts/".length)}`;
  return path;
}
