import { chmod, mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { type BlobStore, isBlobDigest } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";

/** One file of an uploaded snapshot (JSON body of `POST /api/v1/snapshots`). */
export interface SnapshotUploadFile {
  /** POSIX path relative to the source directory, e.g. `train.py` or `pkg/util.py`. */
  path: string;
  /** The bytes, base64. */
  content: string;
  executable?: boolean;
}

/**
 * A stored snapshot: the manifest blob lists each file's blob and names the workspace that
 * uploaded it, so its digest (the snapshot id) differs per workspace and is usable only there.
 */
export interface SnapshotManifest {
  /** Id of the uploading workspace (absent in manifests stored before snapshots were scoped). */
  workspace?: string;
  files: { path: string; digest: string; size: number; executable: boolean }[];
}

/** Default largest snapshot (sum of file sizes), 25 MiB; `MLENV_MAX_SNAPSHOT_BYTES` overrides. */
export const DEFAULT_MAX_SNAPSHOT_BYTES = 25 * 1024 * 1024;

const SEGMENT = /^[^/\\\0]+$/;

/** Check a relative POSIX path from a client: no absolute paths, no `..`, no NUL, no backslashes. */
export function checkRelativePath(path: string, what = "snapshot file path"): string {
  const parts = path.split("/");
  const ok =
    path.length > 0 &&
    path.length <= 1024 &&
    !path.startsWith("/") &&
    parts.every((p) => SEGMENT.test(p) && p !== "." && p !== "..");
  if (!ok) {
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected a ${what} relative to the source directory without "..", "\\" or NUL, e.g. "src/train.py"; received ${preview(path)}`,
      { details: { path: preview(path) } },
    );
  }
  return path;
}

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** Store the files (each a blob) and their manifest; returns the manifest's digest, the snapshot id. */
export async function storeSnapshot(
  blobs: BlobStore,
  workspaceId: string,
  files: SnapshotUploadFile[],
  maxBytes: number,
): Promise<{ id: string; manifest: SnapshotManifest; size: number }> {
  const seen = new Set<string>();
  const decoded = files.map((f) => {
    checkRelativePath(f.path);
    if (seen.has(f.path)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected each path once; ${preview(f.path)} is listed twice`,
      );
    }
    seen.add(f.path);
    return {
      path: f.path,
      bytes: new Uint8Array(Buffer.from(f.content, "base64")),
      executable: f.executable === true,
    };
  });
  const size = decoded.reduce((n, f) => n + f.bytes.length, 0);
  if (size > maxBytes) {
    throw new ServerError(
      ServerErrorCode.TOO_LARGE,
      `Expected a source snapshot of at most ${maxBytes} bytes (list large files in .mlenvignore, e.g. "data/"); received ${size} bytes`,
      { details: { maxBytes, size } },
    );
  }
  const manifest: SnapshotManifest = { workspace: workspaceId, files: [] };
  for (const f of decoded) {
    manifest.files.push({
      path: f.path,
      digest: await blobs.put(f.bytes),
      size: f.bytes.length,
      executable: f.executable,
    });
  }
  manifest.files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const id = await blobs.put(utf8(JSON.stringify(manifest)));
  return { id, manifest, size };
}

/**
 * The manifest of a stored snapshot; E_NOT_FOUND when absent. With `workspaceId` (a client
 * naming a snapshot), one uploaded by another workspace answers exactly like a missing one.
 */
export async function readSnapshot(
  blobs: BlobStore,
  id: string,
  workspaceId?: string,
): Promise<SnapshotManifest> {
  const missing = () =>
    new ServerError(
      ServerErrorCode.NOT_FOUND,
      `Expected a snapshot id returned by POST /api/v1/snapshots, e.g. "sha256:<64 hex>"; no snapshot ${preview(id)}`,
    );
  const bytes = isBlobDigest(id) ? await blobs.get(id) : null;
  if (!bytes) throw missing();
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as SnapshotManifest;
  } catch {
    manifest = { files: null as unknown as SnapshotManifest["files"] };
  }
  // Any other blob (a wheel, a model file) is not a snapshot: same answer as a missing one.
  if (typeof manifest !== "object" || manifest === null || !Array.isArray(manifest.files)) throw missing();
  if (workspaceId !== undefined && manifest.workspace !== workspaceId) throw missing();
  return manifest;
}

/** Write a snapshot's files under `dir` (paths re-checked so nothing lands outside it). */
export async function extractSnapshot(
  blobs: BlobStore,
  manifest: SnapshotManifest,
  dir: string,
): Promise<void> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  for (const f of manifest.files) {
    checkRelativePath(f.path);
    const target = resolve(root, f.path);
    if (!target.startsWith(root + sep))
      throw new Error(`snapshot path escapes the directory: ${preview(f.path)}`);
    const bytes = await blobs.get(f.digest);
    if (!bytes) throw new Error(`snapshot blob ${f.digest} of ${preview(f.path)} is missing`);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, bytes, { flag: "w" });
    if (f.executable) await chmod(target, 0o755);
  }
}

/** A file's path inside a snapshot directory (joined, checked). */
export function insideDir(dir: string, relative: string): string {
  checkRelativePath(relative, "script path");
  return join(dir, ...relative.split("/"));
}
