import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pack } from "tar-stream";
import { cut, DockerError, DockerErrorCode } from "./errors";

/** A build context: relative file path → file bytes (`Dockerfile` at the root). */
export type BuildContextFiles = Record<string, Uint8Array>;

const SAFE_SEGMENT = /^[A-Za-z0-9._@+=-]+$/;

/**
 * Check a context path: relative, `/`-separated, no `.`/`..` segments, only safe characters.
 * Paths reach the engine's tar reader, so anything else is refused, not escaped.
 */
export function checkContextPath(path: string): void {
  const segments = path.split("/");
  const ok =
    path.length > 0 &&
    path.length <= 255 &&
    segments.every((s) => s !== "" && s !== "." && s !== ".." && SAFE_SEGMENT.test(s));
  if (!ok) {
    throw new DockerError(
      DockerErrorCode.CONTEXT_INVALID,
      `build context paths must be relative paths of letters, digits and ._@+=- (e.g. "requirements.txt", "wheels/a-1.0-py3-none-any.whl"); received ${cut(path)}`,
    );
  }
}

/**
 * Stream a build context as an uncompressed tar. Entries are sorted by path and carry a fixed
 * mtime, uid/gid 0 and mode 0644, so equal contexts give equal tars (and equal engine cache keys).
 * `onDisk` adds files read from this machine as the tar is written (large ones, such as a conda
 * prefix archive, never held in memory): context path → file path.
 */
export function contextTar(files: BuildContextFiles, onDisk: Record<string, string> = {}): Readable {
  for (const p of Object.keys(onDisk)) {
    if (p in files) {
      throw new DockerError(
        DockerErrorCode.CONTEXT_INVALID,
        `the build context names ${cut(p)} twice (in memory and on disk); expected one of them`,
      );
    }
  }
  const paths = [...Object.keys(files), ...Object.keys(onDisk)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const p of paths) checkContextPath(p);
  const tar = pack();
  const dirs = new Set<string>();
  const header = { mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 };
  const write = async () => {
    for (const p of paths) {
      const parts = p.split("/");
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join("/");
        if (!dirs.has(dir)) {
          dirs.add(dir);
          tar.entry({ ...header, name: `${dir}/`, type: "directory", mode: 0o755 });
        }
      }
      const file = onDisk[p];
      if (file === undefined) {
        const bytes = files[p] as Uint8Array;
        tar.entry({ ...header, name: p, size: bytes.byteLength }, Buffer.from(bytes));
        continue;
      }
      const { size } = await stat(file);
      await new Promise<void>((resolve, reject) => {
        const entry = tar.entry({ ...header, name: p, size }, (e) => (e ? reject(e) : resolve()));
        pipeline(createReadStream(file), entry).catch(reject);
      });
    }
    tar.finalize();
  };
  write().catch((e: unknown) => tar.destroy(e as Error));
  return Readable.from(tar as unknown as AsyncIterable<Buffer>);
}
