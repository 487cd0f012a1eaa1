import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { LockedCondaPackage } from "@mlenv/core";
import { lock as lockFile } from "proper-lockfile";
import { archiveFormat, extractPackage } from "./archive";
import { CondaInstallError, CondaInstallErrorCode } from "./errors";
import { type FetchOptions, fetchBytes, verifyHash } from "./fetch";

/** The package cache shared by all environments: `$XDG_CACHE_HOME/mlenv/pkgs`, default `~/.cache/mlenv/pkgs`. */
export function defaultPackageCacheDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_CACHE_HOME || join(env.HOME || homedir(), ".cache");
  return join(base, "mlenv", "pkgs");
}

/** `name-version-build`, how conda names a package. */
export function packageLabel(p: Pick<LockedCondaPackage, "name" | "version" | "build">): string {
  return `${p.name}-${p.version}-${p.build}`;
}

/** The file name at the end of a package URL. */
export function packageFilename(url: string): string {
  return decodeURIComponent(new URL(url).pathname.split("/").pop() ?? "");
}

/** One package extracted in the cache. */
export interface CachedPackage {
  /** The extracted package folder (info/, and the files to link). */
  dir: string;
  /** Whether this call fetched it (false: it was already there). */
  fetched: boolean;
  /** Size of the package file in bytes (when fetched now). */
  size?: number;
}

/**
 * Where a locked package lives in the cache. The folder name carries the content hash, so two
 * builds that share a name never share an entry.
 */
export function cacheEntryDir(cacheDir: string, p: LockedCondaPackage): string {
  const hash = (p.sha256 ?? p.md5 ?? "nohash").slice(0, 16);
  const ext = p.url.endsWith(".conda") ? "conda" : "tbz2";
  return join(cacheDir, `${packageLabel(p)}-${ext}-${hash}`);
}

/**
 * Make sure a locked package is extracted in the cache: fetch it, verify its hash, extract it
 * into a private staging folder and rename that into place. Holds a lock on the entry while it
 * works, so concurrent installs (other processes too) never write one entry twice; a staging
 * folder left by a killed process is never used and is removed by the next holder of the lock.
 */
export async function ensureCached(options: {
  cacheDir: string;
  pkg: LockedCondaPackage;
  fetch?: FetchOptions;
}): Promise<CachedPackage> {
  const { cacheDir, pkg } = options;
  const dir = cacheEntryDir(cacheDir, pkg);
  if (existsSync(join(dir, "info", "repodata_record.json"))) return { dir, fetched: false };
  const label = packageLabel(pkg);
  mkdirSync(cacheDir, { recursive: true });
  let release: () => Promise<void>;
  try {
    release = await lockFile(dir, {
      realpath: false,
      lockfilePath: `${dir}.lock`,
      stale: 30_000,
      retries: { retries: 1200, minTimeout: 50, maxTimeout: 500 },
    });
  } catch (cause) {
    throw new CondaInstallError(
      CondaInstallErrorCode.LOCK_TIMEOUT,
      `${label}: the package cache entry ${dir} stayed locked by another install; retry when it finishes`,
      { package: label, cause },
    );
  }
  try {
    if (existsSync(join(dir, "info", "repodata_record.json"))) return { dir, fetched: false };
    const base = dir.split("/").pop() as string;
    for (const leftover of readdirSync(cacheDir)) {
      if (leftover.startsWith(`${base}.partial-`))
        rmSync(join(cacheDir, leftover), { recursive: true, force: true });
    }
    // an entry without its record is incomplete (from an older layout or a crash): replace it
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    const format = archiveFormat(packageFilename(pkg.url), label);
    const bytes = await fetchBytes(pkg.url, label, options.fetch);
    verifyHash(bytes, pkg, label, pkg.url);
    const staging = `${dir}.partial-${randomBytes(4).toString("hex")}`;
    try {
      await extractPackage({ bytes, format, dest: staging, label });
      writeFileSync(
        join(staging, "info", "repodata_record.json"),
        `${JSON.stringify(repodataRecord(pkg, bytes.length), null, 2)}\n`,
      );
      renameSync(staging, dir);
    } catch (e) {
      rmSync(staging, { recursive: true, force: true });
      throw e;
    }
    return { dir, fetched: true, size: bytes.length };
  } finally {
    await release();
  }
}

/** What conda writes as `info/repodata_record.json` in its cache. */
function repodataRecord(pkg: LockedCondaPackage, size: number): Record<string, unknown> {
  return {
    name: pkg.name,
    version: pkg.version,
    build: pkg.build,
    build_number: pkg.buildNumber ?? 0,
    channel: pkg.channel,
    subdir: pkg.subdir,
    url: pkg.url,
    fn: packageFilename(pkg.url),
    depends: pkg.depends,
    size,
    ...(pkg.sha256 ? { sha256: pkg.sha256 } : {}),
    ...(pkg.md5 ? { md5: pkg.md5 } : {}),
  };
}
