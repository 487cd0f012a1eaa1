import { lstat, readdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { ownerGone } from "./blobOwner";
import { type BlobDigest, type BlobStore, FsBlobStore } from "./blobStore";

/** What a start-up sweep removed. */
export interface BlobSweep {
  /** `.tmp-*` files of interrupted blob writes. */
  temps: number;
  /** `tmp/.upload-*` files of interrupted uploads (wheels). */
  uploads: number;
  /** Definition blobs written for a registration that never committed. */
  definitions: number;
}

/** Files of owners not known to be gone (another machine's, or names without an owner) are removed once untouched this long. */
const STALE_MS = 60 * 60 * 1000;

/**
 * Put a blob a database row will reference once a transaction commits: `commit()` after the
 * commit. On the file store a crash in between is swept at the next start (see sweepBlobs).
 */
export async function putPending(
  blobs: BlobStore,
  bytes: Uint8Array,
): Promise<{ digest: BlobDigest; commit(): Promise<void> }> {
  if (blobs instanceof FsBlobStore) return blobs.putPending(bytes);
  return { digest: await blobs.put(bytes), commit: async () => {} };
}

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || (e as NodeJS.ErrnoException).code === "ENOTDIR")
      return [];
    throw e;
  }
}

/** Whether a file or folder left by `owner` (null: unknown) may go: its owner is gone, or it is stale. */
async function abandoned(path: string, owner: string | null, now: number): Promise<boolean> {
  if (owner !== null && ownerGone(owner)) return true;
  try {
    return now - (await lstat(path)).mtimeMs > STALE_MS;
  } catch {
    return false;
  }
}

/** The owner in `<prefix><owner>-<random>`, or null for a name without one (written by an older server). */
function ownerOf(name: string, prefix: string): string | null {
  const m = new RegExp(`^${prefix.replace(".", "\\.")}([0-9a-f]{12}\\.\\d+\\.\\d+)-[0-9a-f]+$`).exec(name);
  return m ? m[1]! : null;
}

/**
 * Remove what crashed processes left in the blob store: partial blob writes (`.tmp-*`), partial
 * uploads (`tmp/.upload-*`), and blobs of registrations that never committed (pending marks whose
 * digest `inUse` says no row references). A live process's files are never touched: files carry
 * their owner (host, pid, process start time); a file of another machine, or without an owner,
 * goes only once untouched for an hour. Run at start-up, before serving.
 */
export async function sweepBlobs(
  blobs: BlobStore,
  options: { definitionInUse: (digest: BlobDigest) => Promise<boolean>; now?: number },
): Promise<BlobSweep> {
  const out: BlobSweep = { temps: 0, uploads: 0, definitions: 0 };
  if (!(blobs instanceof FsBlobStore)) return out;
  const now = options.now ?? Date.now();
  const root = blobs.root;
  for (const shard of await entries(join(root, "sha256"))) {
    const dir = join(root, "sha256", shard);
    for (const name of await entries(dir)) {
      if (!name.startsWith(".tmp-")) continue;
      const path = join(dir, name);
      if (await abandoned(path, ownerOf(name, ".tmp-"), now)) {
        await rm(path, { force: true });
        out.temps++;
      }
    }
  }
  for (const name of await entries(join(root, "tmp"))) {
    if (!name.startsWith(".upload-")) continue;
    const path = join(root, "tmp", name);
    if (await abandoned(path, ownerOf(name, ".upload-"), now)) {
      await rm(path, { force: true });
      out.uploads++;
    }
  }
  for (const owner of await entries(join(root, "pending"))) {
    const dir = join(root, "pending", owner);
    if (owner === blobs.owner || !(await abandoned(dir, owner, now))) continue;
    for (const hex of await entries(dir)) {
      const digest = `sha256:${hex}` as BlobDigest;
      if (/^[0-9a-f]{64}$/.test(hex) && !(await options.definitionInUse(digest))) {
        const path = join(root, "sha256", hex.slice(0, 2), hex);
        await rm(path, { force: true });
        out.definitions++;
      }
      await rm(join(dir, hex), { force: true });
    }
    await rmdir(dir).catch(() => {});
  }
  return out;
}
