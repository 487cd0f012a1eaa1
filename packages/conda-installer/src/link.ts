import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, posix } from "node:path";
import { CondaInstallError, CondaInstallErrorCode, preview } from "./errors";
import { type PackageInfo, type PackagePath, targetPath } from "./packageInfo";
import { replaceBinary, replaceText } from "./prefixReplace";

/** One path a package put into the prefix, as recorded in `conda-meta/*.json` `paths_data`. */
export interface LinkedPath {
  _path: string;
  path_type: "hardlink" | "softlink" | "directory" | "unix_python_entry_point";
  sha256?: string;
  size_in_bytes?: number;
  prefix_placeholder?: string;
  file_mode?: "text" | "binary";
  sha256_in_prefix?: string;
  no_link?: boolean;
}

/** The planned prefix paths of one package, before anything is written. */
export interface LinkPlan {
  label: string;
  cacheDir: string;
  info: PackageInfo;
  /** package path → prefix path, for every entry of paths.json. */
  targets: { source: PackagePath; target: string }[];
  /** Entry point scripts: prefix path → `module:function`. */
  entryPoints: { target: string; module: string; func: string }[];
}

/** Where a noarch: python package's files go; needs the prefix's Python version. */
export interface PythonLayout {
  /** e.g. `lib/python3.11/site-packages` */
  sitePackages: string;
}

/** Plan one package: relocate noarch paths, parse entry points; throws on unsafe entries. */
export function planPackage(options: {
  label: string;
  cacheDir: string;
  info: PackageInfo;
  python: PythonLayout | undefined;
}): LinkPlan {
  const { label, cacheDir, info, python } = options;
  if (info.noarchPython && !python) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PREFIX_INVALID,
      `${label} is a noarch: python package, but the lock has no python package to install it into; add python to the conda dependencies`,
      { package: label },
    );
  }
  const targets = info.paths.map((source) => ({
    source,
    target: targetPath(source.path, info.noarchPython, python?.sitePackages),
  }));
  const entryPoints: LinkPlan["entryPoints"] = [];
  for (const ep of info.entryPoints) {
    const m = /^\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z_][\w.]*)\s*:\s*([A-Za-z_][\w.]*)\s*$/.exec(ep);
    if (!m) {
      throw new CondaInstallError(
        CondaInstallErrorCode.ARCHIVE_INVALID,
        `${label}: info/link.json entry point ${preview(ep)} is not "name = module:function"`,
        { package: label },
      );
    }
    entryPoints.push({ target: `bin/${m[1]}`, module: m[2] as string, func: m[3] as string });
  }
  return { label, cacheDir, info, targets, entryPoints };
}

/** The script conda writes for a noarch: python entry point. */
export function entryPointScript(prefix: string, module: string, func: string): string {
  const python = `${prefix}/bin/python`;
  // Linux refuses shebangs over 127 bytes; then the script finds python on PATH, like conda's fallback.
  const shebang = python.length + 2 > 127 ? "#!/usr/bin/env python" : `#!${python}`;
  const [top] = func.split(".");
  return `${shebang}
# -*- coding: utf-8 -*-
import re
import sys

from ${module} import ${top}

if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw?|\\.exe)?$", "", sys.argv[0])
    sys.exit(${func}())
`;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Records what was created under `root`, so a failed transaction can remove it. */
export interface Journal {
  created: string[];
}

function ensureParent(root: string, rel: string, journal: Journal, dirs: Set<string>): void {
  const parent = posix.dirname(rel);
  if (parent === "." || dirs.has(parent)) return;
  const missing: string[] = [];
  for (let d = parent; d !== "." && !dirs.has(d); d = posix.dirname(d)) {
    if (existsSync(join(root, d))) {
      dirs.add(d);
      break;
    }
    missing.push(d);
  }
  mkdirSync(join(root, parent), { recursive: true });
  for (const d of missing.reverse()) {
    journal.created.push(join(root, d));
    dirs.add(d);
  }
}

function refuseOutside(label: string, rel: string, target: string, prefix: string): void {
  const inside = target.startsWith("/")
    ? target === prefix || target.startsWith(`${prefix}/`)
    : !posix.normalize(posix.join(posix.dirname(rel), target)).startsWith("../");
  if (!inside) {
    throw new CondaInstallError(
      CondaInstallErrorCode.PATH_UNSAFE,
      `${label}: softlink ${rel} points to ${preview(target)}, outside the prefix; nothing was linked`,
      { package: label },
    );
  }
}

/**
 * Link one planned package into `root` (the prefix itself, or a staging folder that will be
 * renamed to it): hard links from the cache (a copy when the file system refuses, or when the
 * file needs its prefix placeholder replaced), softlinks as softlinks, folders, entry points.
 * `prefix` is the final prefix path written into files.
 */
export function linkPackage(options: {
  plan: LinkPlan;
  root: string;
  prefix: string;
  journal: Journal;
  dirs: Set<string>;
  /** Hard links allowed (false after the first EXDEV: the cache is on another file system). */
  hardlinks: { ok: boolean };
}): LinkedPath[] {
  const { plan, root, prefix, journal, dirs, hardlinks } = options;
  const out: LinkedPath[] = [];
  for (const { source, target } of plan.targets) {
    const src = join(plan.cacheDir, source.path);
    const dest = join(root, target);
    const rec: LinkedPath = { _path: target, path_type: source.pathType };
    if (source.sha256) rec.sha256 = source.sha256;
    if (source.sizeInBytes !== undefined) rec.size_in_bytes = source.sizeInBytes;
    if (source.pathType === "directory") {
      if (!existsSync(dest)) {
        mkdirSync(dest, { recursive: true });
        journal.created.push(dest);
      }
      dirs.add(target);
      out.push(rec);
      continue;
    }
    ensureParent(root, target, journal, dirs);
    const missing = (cause: unknown) =>
      new CondaInstallError(
        CondaInstallErrorCode.ARCHIVE_INVALID,
        `${plan.label}: info/paths.json lists ${source.path}, which the package does not contain`,
        { package: plan.label, cause },
      );
    if (source.pathType === "softlink") {
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(src);
      } catch (cause) {
        throw missing(cause);
      }
      if (!st.isSymbolicLink()) {
        // paths.json says softlink for a regular file: conda copies it
        copyFileSync(src, dest);
      } else {
        const linkTarget = readlinkSync(src);
        refuseOutside(plan.label, target, linkTarget, prefix);
        symlinkSync(linkTarget, dest);
      }
      journal.created.push(dest);
      out.push(rec);
      continue;
    }
    if (source.prefixPlaceholder) {
      let data: Buffer;
      try {
        data = readFileSync(src);
      } catch (cause) {
        throw missing(cause);
      }
      const replaced =
        source.fileMode === "binary"
          ? replaceBinary(data, source.prefixPlaceholder, prefix, `${plan.label}: ${target}`)
          : replaceText(data, source.prefixPlaceholder, prefix);
      const mode = statSync(src).mode & 0o7777;
      writeFileSync(dest, replaced, { mode });
      chmodSync(dest, mode);
      journal.created.push(dest);
      rec.prefix_placeholder = source.prefixPlaceholder;
      rec.file_mode = source.fileMode ?? "text";
      if (replaced !== data) rec.sha256_in_prefix = sha256(replaced);
      out.push(rec);
      continue;
    }
    let linked = false;
    if (hardlinks.ok && !source.noLink) {
      try {
        linkSync(src, dest);
        linked = true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "EEXIST") throw e;
        if (code === "ENOENT" && !existsSync(src)) throw missing(e);
        if (code === "EXDEV" || code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP")
          hardlinks.ok = false;
      }
    }
    if (!linked) copyFileSync(src, dest);
    journal.created.push(dest);
    if (source.noLink) rec.no_link = true;
    out.push(rec);
  }
  for (const ep of plan.entryPoints) {
    ensureParent(root, ep.target, journal, dirs);
    const dest = join(root, ep.target);
    if (existsSync(dest)) rmSync(dest, { force: true });
    const script = Buffer.from(entryPointScript(prefix, ep.module, ep.func));
    writeFileSync(dest, script, { mode: 0o755 });
    journal.created.push(dest);
    out.push({
      _path: ep.target,
      path_type: "unix_python_entry_point",
      sha256: sha256(script),
      size_in_bytes: script.length,
    });
  }
  return out;
}
