import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blobOwner } from "./blobOwner";

/** A blob's address: `sha256:<64 lowercase hex>`. */
export type BlobDigest = `sha256:${string}`;

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** True when `s` is a well-formed blob digest (safe to use in a path). */
export function isBlobDigest(s: string): s is BlobDigest {
  return DIGEST.test(s);
}

/** The digest of some bytes. */
export function blobDigest(bytes: Uint8Array): BlobDigest {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** An inclusive byte range of a blob (`end` at most `size - 1`). */
export interface ByteRange {
  start: number;
  end: number;
}

/** A blob opened for reading: its size, and its bytes as a stream (pulled, never held whole). */
export interface BlobReader {
  size: number;
  stream(range?: ByteRange): ReadableStream<Uint8Array>;
}

/** Bytes read from disk per pull of a blob stream. */
const STREAM_CHUNK = 256 * 1024;

/**
 * A pull stream over `path` (or its `range`): one chunk is read each time the consumer asks for
 * more, so a slow reader holds at most a chunk or two in memory. The file opens on the first pull
 * and closes at the end or on cancel.
 */
function fileStream(path: string, range: ByteRange): ReadableStream<Uint8Array> {
  let file: Awaited<ReturnType<typeof open>> | undefined;
  let position = range.start;
  const close = async () => {
    const f = file;
    file = undefined;
    await f?.close().catch(() => {});
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          file ??= await open(path, "r");
          const want = Math.min(STREAM_CHUNK, range.end + 1 - position);
          if (want <= 0) {
            await close();
            controller.close();
            return;
          }
          const buf = new Uint8Array(want);
          const { bytesRead } = await file.read(buf, 0, want, position);
          if (bytesRead === 0)
            throw new Error(`blob ${path} ended at ${position} bytes, before ${range.end + 1}`);
          position += bytesRead;
          controller.enqueue(bytesRead === want ? buf : buf.subarray(0, bytesRead));
        } catch (e) {
          await close();
          controller.error(e);
        }
      },
      cancel: close,
    },
    { highWaterMark: 1 },
  );
}

/** Content-addressed storage: bytes are stored under the SHA-256 of their content. */
export interface BlobStore {
  /** Store bytes (idempotent) and return their digest. */
  put(bytes: Uint8Array): Promise<BlobDigest>;
  /** The bytes, or null when absent. Throws on a malformed digest. */
  get(digest: string): Promise<Uint8Array | null>;
  has(digest: string): Promise<boolean>;
  /** The blob opened for streaming (downloads never buffer it whole), or null when absent. */
  read(digest: string): Promise<BlobReader | null>;
}

/**
 * Blobs as files `<root>/sha256/<ab>/<hex>`, written atomically (temp file + rename). Temp files
 * carry their writer's identity (`blobOwner()`), so a start-up sweep (`sweepBlobs`) removes those
 * a crashed process left and never one a live process is still writing.
 */
export class FsBlobStore implements BlobStore {
  readonly root: string;
  /** This process, as named in its temp files and pending marks. */
  readonly owner = blobOwner();

  constructor(root: string) {
    this.root = root;
  }

  #path(digest: string): string {
    if (!isBlobDigest(digest)) {
      throw new Error(
        `expected a blob digest like "sha256:<64 hex>", received ${JSON.stringify(digest).slice(0, 200)}`,
      );
    }
    const hex = digest.slice("sha256:".length);
    return join(this.root, "sha256", hex.slice(0, 2), hex);
  }

  async put(bytes: Uint8Array): Promise<BlobDigest> {
    const digest = blobDigest(bytes);
    const path = this.#path(digest);
    if (await this.has(digest)) return digest;
    const dir = join(path, "..");
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${this.owner}-${randomBytes(8).toString("hex")}`);
    try {
      await writeFile(tmp, bytes, { flag: "wx", mode: 0o644 });
      await rename(tmp, path);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return digest;
  }

  /**
   * Put a blob that a database row will reference once a transaction commits (a definition
   * blob before its version is registered). When the blob is new, a pending mark
   * `<root>/pending/<owner>/<hex>` records it until `commit()`: a crash in between leaves the
   * mark, and the next start's sweep removes the blob unless a row references it.
   */
  async putPending(bytes: Uint8Array): Promise<{ digest: BlobDigest; commit(): Promise<void> }> {
    const digest = blobDigest(bytes);
    if (await this.has(digest)) return { digest, commit: async () => {} };
    const dir = join(this.root, "pending", this.owner);
    await mkdir(dir, { recursive: true });
    const mark = join(dir, digest.slice("sha256:".length));
    await writeFile(mark, "");
    await this.put(bytes);
    return { digest, commit: () => rm(mark, { force: true }) };
  }

  /**
   * A fresh path for a temp file inside the store (same file system, so {@link putFile} is a
   * rename). The caller writes it and either hands it to `putFile` or removes it.
   */
  async tempPath(): Promise<string> {
    const dir = join(this.root, "tmp");
    await mkdir(dir, { recursive: true });
    return join(dir, `.upload-${this.owner}-${randomBytes(12).toString("hex")}`);
  }

  /**
   * Move a complete temp file whose SHA-256 the caller computed into the store atomically
   * (rename; idempotent: when the blob exists the temp file is just removed). The file is gone
   * from `tmpPath` afterwards either way.
   */
  async putFile(tmpPath: string, digest: BlobDigest): Promise<BlobDigest> {
    const path = this.#path(digest);
    try {
      if (await this.has(digest)) return digest;
      await mkdir(join(path, ".."), { recursive: true });
      await rename(tmpPath, path);
    } finally {
      await rm(tmpPath, { force: true });
    }
    return digest;
  }

  async get(digest: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.#path(digest)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async read(digest: string): Promise<BlobReader | null> {
    const path = this.#path(digest);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    return { size, stream: (range) => fileStream(path, range ?? { start: 0, end: size - 1 }) };
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.#path(digest))).isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
  }
}
