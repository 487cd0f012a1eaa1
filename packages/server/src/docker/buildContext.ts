import { Readable } from "node:stream";
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
 */
export function contextTar(files: BuildContextFiles): Readable {
  const paths = Object.keys(files).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const p of paths) checkContextPath(p);
  const tar = pack();
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (!dirs.has(dir)) {
        dirs.add(dir);
        tar.entry({ name: `${dir}/`, type: "directory", mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 });
      }
    }
    const bytes = files[p] as Uint8Array;
    tar.entry(
      { name: p, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, size: bytes.byteLength },
      Buffer.from(bytes),
    );
  }
  tar.finalize();
  return Readable.from(tar as unknown as AsyncIterable<Buffer>);
}
