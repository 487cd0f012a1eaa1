import { crc32, inflateRawSync } from "node:zlib";
import { received, WheelError, WheelErrorCodes } from "./errors";

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

/**
 * A zip archive read from memory. The constructor parses and vets the central directory and the
 * local headers (names, sizes, overlaps, limits) without decompressing anything; {@link read}
 * decompresses one entry with a hard cap at its declared size.
 */
export class ZipArchive {
  readonly entries: ZipEntry[];
  private readonly view: DataView;
  private readonly limits: ZipLimits;
  private inflated = 0;

  constructor(
    private readonly bytes: Uint8Array,
    limits: Partial<ZipLimits> = {},
  ) {
    this.limits = { ...defaultZipLimits, ...limits };
    if (bytes.length > this.limits.maxBytes) {
      throw new WheelError(
        WheelErrorCodes.tooLarge,
        `Expected a wheel of at most ${this.limits.maxBytes} bytes, received ${bytes.length} bytes`,
        { details: { limit: this.limits.maxBytes, size: bytes.length } },
      );
    }
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.entries = this.parse();
  }

  private u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  private u32(o: number): number {
    return this.view.getUint32(o, true);
  }

  private parse(): ZipEntry[] {
    const b = this.bytes;
    if (b.length < 22) throw notZip(`received only ${b.length} bytes`);
    if (this.u32(0) !== LOC_SIG) {
      throw notZip(
        `the file does not start with a zip local header (first bytes: ${received(new TextDecoder().decode(b.subarray(0, 8)))})`,
      );
    }
    let eocd = -1;
    for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) {
      if (this.u32(i) === EOCD_SIG && i + 22 + this.u16(i + 20) === b.length) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw notZip("no end-of-central-directory record was found (truncated or not a zip)");
    const disk = this.u16(eocd + 4);
    const cdDisk = this.u16(eocd + 6);
    const diskEntries = this.u16(eocd + 8);
    const count = this.u16(eocd + 10);
    const cdSize = this.u32(eocd + 12);
    const cdOffset = this.u32(eocd + 16);
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
      throw unsupported("it is a zip64 archive (wheels up to the size limit never need zip64)");
    }
    if (disk !== 0 || cdDisk !== 0 || diskEntries !== count) throw unsupported("it spans several disks");
    if (count > this.limits.maxEntries) {
      throw bomb(`the archive has ${count} entries, more than the limit of ${this.limits.maxEntries}`);
    }
    if (cdOffset + cdSize > eocd) throw notZip("the central directory lies outside the archive");

    const entries: ZipEntry[] = [];
    const names = new Set<string>();
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let p = cdOffset;
    let declaredTotal = 0;
    for (let i = 0; i < count; i++) {
      if (p + 46 > cdOffset + cdSize || this.u32(p) !== CEN_SIG)
        throw notZip(`central directory entry ${i} is corrupt`);
      const madeBy = this.u16(p + 4);
      const flags = this.u16(p + 8);
      const method = this.u16(p + 10);
      const crc = this.u32(p + 16);
      const csize = this.u32(p + 20);
      const usize = this.u32(p + 24);
      const nameLen = this.u16(p + 28);
      const extraLen = this.u16(p + 30);
      const commentLen = this.u16(p + 32);
      const externalAttrs = this.u32(p + 38);
      const localOffset = this.u32(p + 42);
      if (p + 46 + nameLen + extraLen + commentLen > cdOffset + cdSize)
        throw notZip(`central directory entry ${i} is truncated`);
      let name: string;
      try {
        name = decoder.decode(b.subarray(p + 46, p + 46 + nameLen));
      } catch (cause) {
        throw new WheelError(
          WheelErrorCodes.unsafeMember,
          `Expected UTF-8 archive member names, but entry ${i} has a name that is not valid UTF-8`,
          {
            cause,
          },
        );
      }
      p += 46 + nameLen + extraLen + commentLen;
      checkMemberName(name);
      if (flags & 0x1) throw unsupported(`member "${received(name)}" is encrypted`, name);
      if (csize === 0xffffffff || usize === 0xffffffff || localOffset === 0xffffffff) {
        throw unsupported(`member "${received(name)}" uses zip64 sizes`, name);
      }
      if (madeBy >> 8 === 3 && ((externalAttrs >>> 16) & S_IFMT) === S_IFLNK) {
        throw new WheelError(
          WheelErrorCodes.unsafeMember,
          `Expected regular files in a wheel, but member "${received(name)}" is a symbolic link`,
          { details: { member: received(name) } },
        );
      }
      if (names.has(name)) {
        throw new WheelError(
          WheelErrorCodes.unsafeMember,
          `Expected unique member names, but "${received(name)}" appears twice`,
          {
            details: { member: received(name) },
          },
        );
      }
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
      if (localOffset + 30 > cdOffset || this.u32(localOffset) !== LOC_SIG) {
        throw notZip(`the local header of "${received(name)}" is missing or corrupt`);
      }
      const locNameLen = this.u16(localOffset + 26);
      const locExtraLen = this.u16(localOffset + 28);
      const locName = b.subarray(localOffset + 30, localOffset + 30 + locNameLen);
      if (locNameLen !== nameLen || decoderLoose(locName) !== name) {
        throw new WheelError(
          WheelErrorCodes.unsafeMember,
          `Expected each local header to carry the same name as the central directory, but "${received(name)}" differs`,
          { details: { member: received(name) } },
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
    if (declaredTotal > RATIO_FLOOR && declaredTotal / b.length > this.limits.maxCompressionRatio) {
      throw bomb(
        `the archive expands ${declaredTotal} bytes from ${b.length} (ratio over ${this.limits.maxCompressionRatio})`,
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
    const data = this.bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize);
    let out: Uint8Array;
    if (entry.method === 0) {
      out = data;
    } else {
      // Native inflate with a hard output cap: one byte past the declared size means a lie.
      try {
        out = inflateRawSync(data, { maxOutputLength: entry.uncompressedSize + 1 });
      } catch (cause) {
        if ((cause as { code?: string }).code === "ERR_BUFFER_TOO_LARGE") {
          throw bomb(
            `member "${received(entry.name)}" expands past its declared size of ${entry.uncompressedSize} bytes`,
            entry.name,
          );
        }
        throw notZip(
          `member "${received(entry.name)}" is not valid deflate data (${received(String(cause))})`,
        );
      }
      if (out.length !== entry.uncompressedSize) {
        if (out.length > entry.uncompressedSize) {
          throw bomb(
            `member "${received(entry.name)}" expands past its declared size of ${entry.uncompressedSize} bytes`,
            entry.name,
          );
        }
        throw notZip(
          `member "${received(entry.name)}" expands to ${out.length} bytes, not the declared ${entry.uncompressedSize}`,
        );
      }
    }
    this.inflated += out.length;
    if (this.inflated > this.limits.maxUncompressedBytes) {
      throw bomb(`the members expand to more than ${this.limits.maxUncompressedBytes} bytes`, entry.name);
    }
    if (crc32(out) !== entry.crc32) throw notZip(`member "${received(entry.name)}" fails its CRC-32 check`);
    return out;
  }
}

function decoderLoose(bytes: Uint8Array): string {
  return new TextDecoder("utf-8").decode(bytes);
}
