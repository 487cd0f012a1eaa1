import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

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

/** Content-addressed storage: bytes are stored under the SHA-256 of their content. */
export interface BlobStore {
  /** Store bytes (idempotent) and return their digest. */
  put(bytes: Uint8Array): Promise<BlobDigest>;
  /** The bytes, or null when absent. Throws on a malformed digest. */
  get(digest: string): Promise<Uint8Array | null>;
  has(digest: string): Promise<boolean>;
}

/** Blobs as files `<root>/sha256/<ab>/<hex>`, written atomically (temp file + rename). */
export class FsBlobStore implements BlobStore {
  readonly root: string;

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
    const tmp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
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
   * A fresh path for a temp file inside the store (same file system, so {@link putFile} is a
   * rename). The caller writes it and either hands it to `putFile` or removes it.
   */
  async tempPath(): Promise<string> {
    const dir = join(this.root, "tmp");
    await mkdir(dir, { recursive: true });
    return join(dir, `.upload-${randomBytes(12).toString("hex")}`);
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

  async has(digest: string): Promise<boolean> {
    try {
      return (await stat(this.#path(digest))).isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw e;
    }
  }
}
