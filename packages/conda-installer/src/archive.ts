import { linkSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { unzipSync } from "fflate";
import { bzip2Decompress, zstdDecompress } from "./decompress";
import { CondaInstallError, CondaInstallErrorCode, preview } from "./errors";
import { readTar, type TarMember } from "./tar";

/** The two conda package formats. */
export type ArchiveFormat = "conda" | "tar.bz2";

/** The format of a package file name (`numpy-1.26.4-py312_0.conda`). */
export function archiveFormat(filename: string, label = filename): ArchiveFormat {
  if (filename.endsWith(".conda")) return "conda";
  if (filename.endsWith(".tar.bz2")) return "tar.bz2";
  throw new CondaInstallError(
    CondaInstallErrorCode.ARCHIVE_INVALID,
    `${label}: expected a package file ending in .conda or .tar.bz2; received ${preview(filename)}`,
    { package: label },
  );
}

/**
 * A member path inside a package, normalised (no leading `./`), or an error when it is empty,
 * absolute, or climbs out with `..`.
 */
export function safeRelativePath(raw: string, label: string, what = "member"): string {
  const name = raw.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  const bad =
    name === "" ||
    name.includes("\0") ||
    name.startsWith("/") ||
    /^[A-Za-z]:[\\/]/.test(name) ||
    name.includes("\\") ||
    name.split("/").some((part) => part === ".." || part === "");
  if (bad) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PATH_UNSAFE,
      `${label}: ${what} path ${preview(raw)} escapes the package (expected a relative path like lib/libz.so without ".." or a leading "/")`,
      { package: label },
    );
  }
  return name;
}

/** A symlink target, checked to stay inside `root` when resolved from the link's folder. */
export function checkLinkTarget(linkPath: string, target: string, label: string): void {
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  if (target === "" || target.startsWith("/") || resolved === ".." || resolved.startsWith("../")) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PATH_UNSAFE,
      `${label}: symlink ${linkPath} points to ${preview(target)}, outside the package (expected a relative target inside it, like libz.so.1)`,
      { package: label },
    );
  }
}

function invalid(label: string, what: string, cause?: unknown): CondaInstallError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new CondaInstallError(CondaInstallErrorCode.ARCHIVE_INVALID, `${label}: ${what}${detail}`, {
    package: label,
    ...(cause === undefined ? {} : { cause }),
  });
}

function tarEntries(tar: Uint8Array, label: string, member: string): TarMember[] {
  try {
    return readTar(tar);
  } catch (cause) {
    throw invalid(label, `${member} is not a complete tar archive (truncated or corrupt)`, cause);
  }
}

/** Write tar entries under `dest`, refusing anything that could land outside it. */
function writeEntries(entries: TarMember[], dest: string, label: string): number {
  const dirs = new Set<string>([""]);
  const symlinks = new Set<string>();
  let files = 0;
  const ensureDir = (rel: string) => {
    if (dirs.has(rel)) return;
    mkdirSync(join(dest, rel), { recursive: true });
    for (let d = rel; d !== "." && d !== "" && !dirs.has(d); d = posix.dirname(d)) dirs.add(d);
  };
  const underSymlink = (rel: string) => {
    for (let d = posix.dirname(rel); d !== "."; d = posix.dirname(d)) if (symlinks.has(d)) return true;
    return false;
  };
  for (const header of entries) {
    const { data } = header;
    const rel = safeRelativePath(header.name, label);
    if (underSymlink(rel)) {
      throw new CondaInstallError(
        CondaInstallErrorCode.PATH_UNSAFE,
        `${label}: member ${rel} is written through a symlink in the same archive; refusing (it could point anywhere)`,
        { package: label },
      );
    }
    const full = join(dest, rel);
    const mode = (header.mode & 0o7777) | 0o600;
    switch (header.type) {
      case "directory":
        ensureDir(rel);
        break;
      case "file":
        ensureDir(posix.dirname(rel));
        writeFileSync(full, data, { mode });
        files++;
        break;
      case "symlink": {
        const target = header.linkname;
        checkLinkTarget(rel, target, label);
        ensureDir(posix.dirname(rel));
        symlinkSync(target, full);
        symlinks.add(rel);
        files++;
        break;
      }
      case "link": {
        const target = safeRelativePath(header.linkname, label, "hard link target");
        ensureDir(posix.dirname(rel));
        try {
          linkSync(join(dest, target), full);
        } catch (cause) {
          throw invalid(label, `hard link ${rel} names ${target}, which is not an earlier member`, cause);
        }
        files++;
        break;
      }
      default:
        throw new CondaInstallError(
          CondaInstallErrorCode.ARCHIVE_INVALID,
          `${label}: member ${rel} has tar type ${JSON.stringify(header.typeflag)} (a device, fifo or unknown entry); a conda package holds only files, folders and links`,
          { package: label },
        );
    }
  }
  return files;
}

/**
 * Decode a conda package in memory (`.conda`: a zip of `info-*.tar.zst` and `pkg-*.tar.zst`; or
 * `.tar.bz2`) into its tar members, package files first, then `info/`. A truncated or corrupt
 * archive throws E_CONDA_ARCHIVE_INVALID.
 */
export async function decodePackage(options: {
  bytes: Uint8Array;
  format: ArchiveFormat;
  /** Names the package in errors, e.g. `numpy-1.26.4-py312_0`. */
  label: string;
}): Promise<TarMember[]> {
  const { bytes, format, label } = options;
  if (format === "tar.bz2") {
    if (!(bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68))
      throw invalid(label, "is not a bzip2 stream (expected the magic bytes BZh)");
    let tar: Uint8Array;
    try {
      tar = await bzip2Decompress(bytes);
    } catch (cause) {
      if ((cause as { code?: unknown }).code === CondaInstallErrorCode.ARCHIVE_INVALID) throw cause;
      throw invalid(label, "bzip2 data is truncated or corrupt", cause);
    }
    return tarEntries(tar, label, "the archive");
  }
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => /^(info|pkg)-.*\.tar\.zst$/.test(f.name) });
  } catch (cause) {
    throw invalid(label, "is not a readable .conda zip (truncated or corrupt)", cause);
  }
  const names = Object.keys(members);
  const info = names.find((n) => n.startsWith("info-"));
  const pkg = names.find((n) => n.startsWith("pkg-"));
  if (!info || !pkg)
    throw invalid(label, `a .conda must hold info-*.tar.zst and pkg-*.tar.zst; found ${preview(names)}`);
  const out: TarMember[] = [];
  for (const member of [pkg, info]) {
    let tar: Uint8Array;
    try {
      tar = zstdDecompress(members[member] as Uint8Array);
    } catch (cause) {
      throw invalid(label, `${member} is truncated or corrupt zstd data`, cause);
    }
    for (const m of tarEntries(tar, label, member)) out.push(m);
  }
  return out;
}

/**
 * Extract a conda package into `dest`, in process. Every member path is checked before anything
 * is written under it.
 * @returns the number of files and links written.
 */
export async function extractPackage(options: {
  bytes: Uint8Array;
  format: ArchiveFormat;
  dest: string;
  /** Names the package in errors, e.g. `numpy-1.26.4-py312_0`. */
  label: string;
}): Promise<number> {
  const members = await decodePackage(options);
  mkdirSync(options.dest, { recursive: true });
  return writeEntries(members, options.dest, options.label);
}
