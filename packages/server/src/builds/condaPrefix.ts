import { createHash, randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  lstatSync,
  readdirSync,
  readlinkSync,
} from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { canonicalJson, type EnvironmentDefinition, type Lock } from "@mlenv/core";
import { pack } from "tar-stream";

/** The build context file a conda prefix installed by mlenv travels in (core's `condaPrefixArchive`). */
export const CONDA_PREFIX_ARCHIVE = "conda-prefix.tar";

/** Where the builder installs conda prefixes for images (see {@link stageCondaPrefix}). */
export interface CondaPrefixStaging {
  /** Folder of the staged prefix archives, one per locked conda package set (e.g. `<dataDir>/builds/conda-prefixes`). */
  dir: string;
  /** The conda package cache (shared with local runs: `<dataDir>/pkgs`). */
  packageCache: string;
  /**
   * Locks the conda part of a definition that has no lock for `platform` (default:
   * `@mlenv/resolver`'s `lockEnvironment` over the definition without its pip block).
   */
  lock?: (definition: EnvironmentDefinition, platform: string) => Promise<Lock>;
}

/** Every entry's mtime in a prefix archive: equal package sets give equal archives. */
const ARCHIVE_MTIME = new Date("2000-01-01T00:00:00Z");

/** The definition without its pip block: the conda part is all the prefix archive holds. */
export function condaOnly(definition: EnvironmentDefinition): EnvironmentDefinition {
  const conda = definition.python.condaDependencies;
  return {
    ...definition,
    python: {
      ...definition.python,
      condaDependencies: {
        ...conda,
        dependencies: (conda.dependencies ?? []).filter((d) => typeof d === "string"),
      },
    },
  };
}

/**
 * The key of a prefix archive: the prefix path, platform and the exact conda artifacts (pip is
 * not part of it, so a pip-only change reuses the archive, and with it the image's conda layer).
 */
export function condaPrefixKey(lock: Lock, platform: string, prefix: string): string {
  const conda = (lock.platforms[platform]?.conda ?? []).map((p) => ({
    url: p.url,
    sha256: p.sha256 ?? null,
    md5: p.md5 ?? null,
  }));
  conda.sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
  return createHash("sha256")
    .update(canonicalJson({ kind: "mlenv-conda-prefix", v: 1, prefix, platform, conda }))
    .digest("hex");
}

/** Write `root` as an uncompressed tar with sorted entries, uid/gid 0 and a fixed mtime. */
async function writeArchive(root: string, file: string): Promise<void> {
  const tar = pack();
  const header = { uid: 0, gid: 0, mtime: ARCHIVE_MTIME };
  const out = pipeline(tar, createWriteStream(file));
  const walk = async (rel: string): Promise<void> => {
    const names = readdirSync(join(root, rel)).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const abs = join(root, r);
      const st = lstatSync(abs);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) {
        tar.entry({ ...header, name: r, type: "symlink", linkname: readlinkSync(abs), mode: 0o777 });
      } else if (st.isDirectory()) {
        tar.entry({ ...header, name: `${r}/`, type: "directory", mode });
        await walk(r);
      } else if (st.isFile()) {
        await new Promise<void>((resolve, reject) => {
          const entry = tar.entry({ ...header, name: r, size: st.size, mode }, (e) =>
            e ? reject(e) : resolve(),
          );
          pipeline(createReadStream(abs), entry).catch(reject);
        });
      }
    }
  };
  try {
    await walk("");
    tar.finalize();
  } catch (e) {
    tar.destroy(e as Error);
  }
  await out;
}

/**
 * The conda prefix of a lock as an archive for an image: installed by `@mlenv/conda-installer`
 * into a staging folder for the image's prefix path (placeholders name that path; the pip part is
 * the image's own layer), written as a tar holding the prefix at its path (`opt/conda/...`), and
 * kept under {@link condaPrefixKey}, so the next build of the same conda packages sends the same
 * bytes and the engine reuses its layer.
 */
export async function stageCondaPrefix(options: {
  staging: CondaPrefixStaging;
  lock: Lock;
  platform: string;
  /** The prefix path inside the image. */
  prefix: string;
  log: (text: string) => void;
}): Promise<{ archive: string; key: string; reused: boolean }> {
  const { staging, lock, platform, prefix, log } = options;
  const key = condaPrefixKey(lock, platform, prefix);
  const archive = join(staging.dir, `${key}.tar`);
  const count = lock.platforms[platform]?.conda.length ?? 0;
  if (existsSync(archive)) {
    log(`conda prefix ${prefix}: ${count} conda packages, staged earlier (${key.slice(0, 12)})`);
    return { archive, key, reused: true };
  }
  const work = join(staging.dir, `.${key}-${randomBytes(4).toString("hex")}`);
  const partial = `${work}.tar.partial`;
  await mkdir(staging.dir, { recursive: true });
  try {
    const { installLock } = await import("@mlenv/conda-installer");
    log(`installing conda prefix ${prefix} (${count} conda packages, cache ${staging.packageCache})`);
    const result = await installLock({
      prefix: join(work, prefix),
      targetPrefix: prefix,
      lock,
      platform,
      cacheDir: staging.packageCache,
      pip: false,
      command: "mlenv image build",
    });
    for (const w of result.warnings) log(`warning: ${w}`);
    log(`conda prefix ready: ${result.linked.length} packages linked (${result.fetched.length} fetched)`);
    await writeArchive(work, partial);
    await rename(partial, archive);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
  return { archive, key, reused: false };
}
