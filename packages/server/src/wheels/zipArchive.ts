import { createHash } from "node:crypto";
import { fstatSync, readSync } from "node:fs";
import { crc32, inflateRawSync } from "node:zlib";
import { Inflate } from "fflate";
import { isWheelError, received, WheelError, WheelErrorCodes } from "./errors";

/** Limits applied while reading an uploaded archive. */
export interface ZipLimits {
  /** Largest archive accepted, in bytes (default 500 MiB). */
  maxBytes: number;
  /** Largest total uncompressed size, in bytes (default 2 GiB). */
  maxUncompressedBytes: number;
  /** Largest uncompressed/compressed ratio for an entry bigger than 1 MiB, and for the whole archive. */
  maxCompressionRatio: number;
  /** Most entries in one archive. */
  maxEntries: number;
}

export const defaultZipLimits: ZipLimits = {
  maxBytes: 500 * 1024 * 1024,
  maxUncompressedBytes: 2 * 1024 * 1024 * 1024,
  maxCompressionRatio: 200,
  maxEntries: 100_000,
};

/** One member of the archive as described by the central directory (after vetting). */
export interface ZipEntry {
  name: string;
  isDirectory: boolean;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the member's local header in the archive. */
  localOffset: number;
  /** Offset of the compressed data in the archive. */
  dataOffset: number;
}

/**
 * Random access to an archive's bytes: the whole archive in memory, or a file read piece by
 * piece ({@link fileZipSource}) so a large upload is never held in memory at once.
 */
export interface ZipSource {
  readonly size: number;
  /** Exactly `length` bytes at `offset` (the caller keeps within `size`). */
  read(offset: number, length: number): Uint8Array;
}

/** A {@link ZipSource} over bytes in memory. */
export function bytesZipSource(bytes: Uint8Array): ZipSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/** A {@link ZipSource} over an open file descriptor (the caller closes it). */
export function fileZipSource(fd: number): ZipSource {
  const size = fstatSync(fd).size;
  return {
    size,
    read(offset, length) {
      const out = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) throw notZip(`the file ended at ${offset + done} bytes while reading`);
        done += n;
      }
      return out;
    },
  };
}

const CHUNK = 1024 * 1024;
const RATIO_FLOOR = 1024 * 1024;
const EOCD_SIG = 0x06054b50;
const CEN_SIG = 0x02014b50;
const LOC_SIG = 0x04034b50;
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function notZip(why: string): WheelError {
  return new WheelError(
    WheelErrorCodes.notZip,
    `Expected a wheel, which is a zip archive (e.g. built by \`pip wheel .\`), but ${why}`,
  );
}

function unsupported(why: string, name?: string): WheelError {
  return new WheelError(
    WheelErrorCodes.unsupportedZip,
    `Expected a plain zip archive (stored or deflated members), but ${why}`,
    {
      details: name === undefined ? {} : { member: received(name) },
    },
  );
}

function bomb(why: string, name?: string): WheelError {
  return new WheelError(WheelErrorCodes.zipBomb, `Refusing a possible zip bomb: ${why}`, {
    details: name === undefined ? {} : { member: received(name) },
  });
}

function unsafeMember(expected: string, name: string): WheelError {
  return new WheelError(WheelErrorCodes.unsafeMember, `Expected ${expected}`, {
    details: { member: received(name) },
  });
}

/** A member whose inflated bytes went past the size its header declared. */
function pastDeclaredSize(entry: ZipEntry): WheelError {
  return bomb(
    `member "${received(entry.name)}" expands past its declared size of ${entry.uncompressedSize} bytes`,
    entry.name,
  );
}

function notDeflate(entry: ZipEntry, cause: unknown): WheelError {
  return notZip(`member "${received(entry.name)}" is not valid deflate data (${received(String(cause))})`);
}

function wrongSize(entry: ZipEntry, size: number): WheelError {
  return notZip(
    `member "${received(entry.name)}" expands to ${size} bytes, not the declared ${entry.uncompressedSize}`,
  );
}

function wrongCrc(entry: ZipEntry): WheelError {
  return notZip(`member "${received(entry.name)}" fails its CRC-32 check`);
}

/**
 * Vet an archive member name: relative, forward slashes only, no `..` or `.` segments, no
 * empty segments, no control characters, no drive letters.
 */
export function checkMemberName(name: string): void {
  const fail = (why: string) =>
    new WheelError(
      WheelErrorCodes.unsafeMember,
      `Expected archive member names to be relative paths inside the wheel (e.g. "my_pkg/__init__.py"), but a member name ${why}; received "${received(name)}"`,
      { details: { member: received(name) } },
    );
  if (name.length === 0) throw fail("is empty");
  if (name.length > 1024) throw fail("is longer than 1024 characters");
  if (/[\u0000-\u001f\u007f]/.test(name)) throw fail("contains a control character (NUL, newline...)");
  if (name.includes("\\")) throw fail("contains a backslash");
  if (name.startsWith("/")) throw fail("is absolute");
  if (/^[A-Za-z]:/.test(name)) throw fail("starts with a drive letter");
  const segments = (name.endsWith("/") ? name.slice(0, -1) : name).split("/");
  for (const seg of segments) {
    if (seg === "..") throw fail('climbs out of the archive with ".."');
    if (seg === ".") throw fail('contains a "." segment');
    if (seg === "") throw fail("contains an empty path segment");
  }
}

function u16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/**
 * A zip archive read from memory or from a file ({@link ZipSource}). The constructor parses and vets the central directory and the
 * local headers (names, sizes, overlaps, limits) without decompressing anything; {@link read}
 * decompresses one entry with a hard cap at its declared size.
 */
export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly source: ZipSource;
  private readonly limits: ZipLimits;
  private inflated = 0;

  constructor(input: Uint8Array | ZipSource, limits: Partial<ZipLimits> = {}) {
    this.source = input instanceof Uint8Array ? bytesZipSource(input) : input;
    this.limits = { ...defaultZipLimits, ...limits };
    const size = this.source.size;
    if (size > this.limits.maxBytes) {
      throw new WheelError(
        WheelErrorCodes.tooLarge,
        `Expected a wheel of at most ${this.limits.maxBytes} bytes, received ${size} bytes`,
        { details: { limit: this.limits.maxBytes, size } },
      );
    }
    this.entries = this.parse();
  }

  private parse(): ZipEntry[] {
    const src = this.source;
    const size = src.size;
    if (size < 22) throw notZip(`received only ${size} bytes`);
    const head = src.read(0, 8);
    if (u32(head, 0) !== LOC_SIG) {
      throw notZip(
        `the file does not start with a zip local header (first bytes: ${received(new TextDecoder().decode(head))})`,
      );
    }
    // The end record lies in the last 22 + 65535 (comment) bytes.
    const tailStart = Math.max(0, size - 22 - 0xffff);
    const tail = src.read(tailStart, size - tailStart);
    let eocd = -1;
    for (let i = tail.length - 22; i >= 0; i--) {
      if (u32(tail, i) === EOCD_SIG && tailStart + i + 22 + u16(tail, i + 20) === size) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw notZip("no end-of-central-directory record was found (truncated or not a zip)");
    const disk = u16(tail, eocd + 4);
    const cdDisk = u16(tail, eocd + 6);
    const diskEntries = u16(tail, eocd + 8);
    const count = u16(tail, eocd + 10);
    const cdSize = u32(tail, eocd + 12);
    const cdOffset = u32(tail, eocd + 16);
    eocd += tailStart;
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw unsupported("it is a zip64 archive (wheels up to the size limit never need zip64)");
    }
    if (disk !== 0 || cdDisk !== 0 || diskEntries !== count) throw unsupported("it spans several disks");
    if (count > this.limits.maxEntries) {
      throw bomb(`the archive has ${count} entries, more than the limit of ${this.limits.maxEntries}`);
    }
    if (cdOffset + cdSize > eocd) throw notZip("the central directory lies outside the archive");
    const cd = src.read(cdOffset, cdSize);

    const entries: ZipEntry[] = [];
    const names = new Set<string>();
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let p = 0;
    let declaredTotal = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdSize || u32(cd, p) !== CEN_SIG) throw notZip(`central directory entry ${i} is corrupt`);
      const madeBy = u16(cd, p + 4);
      const flags = u16(cd, p + 8);
      const method = u16(cd, p + 10);
      const crc = u32(cd, p + 16);
      const csize = u32(cd, p + 20);
      const usize = u32(cd, p + 24);
      const nameLen = u16(cd, p + 28);
      const extraLen = u16(cd, p + 30);
      const commentLen = u16(cd, p + 32);
      const externalAttrs = u32(cd, p + 38);
      const localOffset = u32(cd, p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cdSize)
        throw notZip(`central directory entry ${i} is truncated`);
      let name: string;
      try {
        name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
      } catch (cause) {
        throw new WheelError(
          WheelErrorCodes.unsafeMember,
          `Expected UTF-8 archive member names, but entry ${i} has a name that is not valid UTF-8`,
          { cause },
        );
      }
      p += 46 + nameLen + extraLen + commentLen;
      checkMemberName(name);
      if (flags & 0x1) throw unsupported(`member "${received(name)}" is encrypted`, name);
      if (csize === 0xffffffff || usize === 0xffffffff || localOffset === 0xffffffff) {
        throw unsupported(`member "${received(name)}" uses zip64 sizes`, name);
      }
      if (madeBy >> 8 === 3 && ((externalAttrs >>> 16) & S_IFMT) === S_IFLNK) {
        throw unsafeMember(
          `regular files in a wheel, but member "${received(name)}" is a symbolic link`,
          name,
        );
      }
      if (names.has(name))
        throw unsafeMember(`unique member names, but "${received(name)}" appears twice`, name);
      names.add(name);
      if (method !== 0 && method !== 8) {
        throw unsupported(
          `member "${received(name)}" uses compression method ${method} (only 0 stored and 8 deflate are accepted)`,
          name,
        );
      }
      if (method === 0 && csize !== usize)
        throw notZip(`stored member "${received(name)}" has different compressed and uncompressed sizes`);
      if (usize > RATIO_FLOOR && usize / Math.max(csize, 1) > this.limits.maxCompressionRatio) {
        throw bomb(
          `member "${received(name)}" expands ${usize} bytes from ${csize} (ratio over ${this.limits.maxCompressionRatio})`,
          name,
        );
      }
      declaredTotal += usize;
      if (declaredTotal > this.limits.maxUncompressedBytes) {
        throw bomb(`the members expand to more than ${this.limits.maxUncompressedBytes} bytes`, name);
      }
      // Local header: its name must agree, and its data must lie before the central directory.
      const loc = localOffset + 30 > cdOffset ? null : src.read(localOffset, 30);
      if (!loc || u32(loc, 0) !== LOC_SIG) {
        throw notZip(`the local header of "${received(name)}" is missing or corrupt`);
      }
      const locNameLen = u16(loc, 26);
      const locExtraLen = u16(loc, 28);
      if (localOffset + 30 + locNameLen > cdOffset)
        throw notZip(`the local header of "${received(name)}" runs past the central directory`);
      const locName = src.read(localOffset + 30, locNameLen);
      if (locNameLen !== nameLen || decoderLoose(locName) !== name) {
        throw unsafeMember(
          `each local header to carry the same name as the central directory, but "${received(name)}" differs`,
          name,
        );
      }
      const dataOffset = localOffset + 30 + locNameLen + locExtraLen;
      if (dataOffset + csize > cdOffset)
        throw notZip(`the data of "${received(name)}" runs past the central directory`);
      entries.push({
        name,
        isDirectory: name.endsWith("/"),
        method,
        crc32: crc,
        compressedSize: csize,
        uncompressedSize: usize,
        localOffset,
        dataOffset,
      });
    }
    if (declaredTotal > RATIO_FLOOR && declaredTotal / size > this.limits.maxCompressionRatio) {
      throw bomb(
        `the archive expands ${declaredTotal} bytes from ${size} (ratio over ${this.limits.maxCompressionRatio})`,
      );
    }
    // Overlapping members are how "non-recursive" zip bombs reuse one compressed block many times.
    const sorted = [...entries].sort((x, y) => x.localOffset - y.localOffset);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const cur = sorted[i]!;
      if (prev.dataOffset + prev.compressedSize > cur.localOffset) {
        throw bomb(
          `members "${received(prev.name)}" and "${received(cur.name)}" overlap in the archive`,
          cur.name,
        );
      }
    }
    return entries;
  }

  /** Find an entry by exact name. */
  get(name: string): ZipEntry | undefined {
    return this.entries.find((e) => e.name === name);
  }

  /**
   * Decompress one entry. Output beyond the declared size, or beyond the archive's total
   * uncompressed limit, aborts the read; the CRC-32 must match.
   */
  read(entry: ZipEntry): Uint8Array {
    const data = this.source.read(entry.dataOffset, entry.compressedSize);
    let out: Uint8Array;
    if (entry.method === 0) {
      out = data;
    } else {
      // Native inflate with a hard output cap: one byte past the declared size means a lie.
      try {
        out = inflateRawSync(data, { maxOutputLength: entry.uncompressedSize + 1 });
      } catch (cause) {
        if ((cause as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") throw pastDeclaredSize(entry);
        throw notDeflate(entry, cause);
      }
      if (out.length > entry.uncompressedSize) throw pastDeclaredSize(entry);
      if (out.length < entry.uncompressedSize) throw wrongSize(entry, out.length);
    }
    this.#countInflated(out.length, entry);
    if (crc32(out) !== entry.crc32) throw wrongCrc(entry);
    return out;
  }

  /** Add inflated bytes to the archive's total; past its limit the read stops. */
  #countInflated(n: number, entry: ZipEntry): void {
    this.inflated += n;
    if (this.inflated > this.limits.maxUncompressedBytes) {
      throw bomb(`the members expand to more than ${this.limits.maxUncompressedBytes} bytes`, entry.name);
    }
  }

  /**
   * Hash one entry's content with `algo` (e.g. "sha256") without holding it in memory: the
   * compressed data is read and inflated in 1 MiB pieces, with the same caps and CRC-32 check as
   * {@link read}.
   */
  digest(entry: ZipEntry, algo: string): ZipEntryDigest {
    const hash = createHash(algo);
    let crc = 0;
    let size = 0;
    const take = (piece: Uint8Array) => {
      size += piece.length;
      if (size > entry.uncompressedSize) throw pastDeclaredSize(entry);
      this.#countInflated(piece.length, entry);
      hash.update(piece);
      crc = crc32(piece, crc);
    };
    const inflater = entry.method === 0 ? null : new Inflate((piece) => take(piece));
    let done = 0;
    do {
      const n = Math.min(CHUNK, entry.compressedSize - done);
      const piece = this.source.read(entry.dataOffset + done, n);
      done += n;
      if (!inflater) {
        take(piece);
        continue;
      }
      try {
        inflater.push(piece, done >= entry.compressedSize);
      } catch (cause) {
        if (isWheelError(cause)) throw cause;
        throw notDeflate(entry, cause);
      }
    } while (done < entry.compressedSize);
    if (size !== entry.uncompressedSize) throw wrongSize(entry, size);
    if (crc !== entry.crc32) throw wrongCrc(entry);
    return { digest: hash.digest("base64url"), size };
  }
}

/** A member's hash and size, computed while streaming it. */
export interface ZipEntryDigest {
  /** base64url digest (no padding). */
  digest: string;
  size: number;
}

function decoderLoose(bytes: Uint8Array): string {
  return new TextDecoder("utf-8").decode(bytes);
}
