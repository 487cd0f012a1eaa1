/**
 * A zero-copy reader of a whole tar archive in memory (ustar, pax `path`/`linkpath`/`size`
 * records, GNU long names), strict about checksums and the end-of-archive marker.
 *
 * Why not a library: modern-tar (used by the test fixtures to write archives) copies every
 * member out of the archive and goes through WHATWG streams, which measured slower than libzstd
 * decoding the same archive (`pnpm bench install`); member data here are views into the
 * decompressed buffer.
 */

/** One tar member. */
export interface TarMember {
  name: string;
  type: "file" | "directory" | "symlink" | "link" | "other";
  /** The raw typeflag, for messages. */
  typeflag: string;
  mode: number;
  linkname: string;
  /** A view into the archive (no copy). */
  data: Uint8Array;
}

const decoder = new TextDecoder();

function str(b: Uint8Array, start: number, len: number): string {
  let end = start;
  const max = start + len;
  while (end < max && b[end] !== 0) end++;
  return decoder.decode(b.subarray(start, end));
}

function octal(b: Uint8Array, start: number, len: number): number {
  if ((b[start] as number) & 0x80) {
    // base-256 (GNU) for large values
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + (b[i] as number);
    return v;
  }
  const s = str(b, start, len).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`bad octal field ${JSON.stringify(s)}`);
  return Number.parseInt(s, 8);
}

function checksumOk(b: Uint8Array, off: number): boolean {
  const want = octal(b, off + 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (b[off + i] as number);
  return sum === want;
}

function pax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp < 0) break;
    const len = Number(decoder.decode(data.subarray(pos, sp)));
    if (
      !Number.isSafeInteger(len) ||
      len <= sp - pos ||
      pos + len > data.length ||
      data[pos + len - 1] !== 0x0a
    )
      throw new Error("bad pax record");
    const rec = decoder.decode(data.subarray(sp + 1, pos + len - 1));
    const eq = rec.indexOf("=");
    if (eq < 0) throw new Error("bad pax record");
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

const TYPES: Record<string, TarMember["type"]> = {
  "0": "file",
  "": "file",
  "7": "file",
  "1": "link",
  "2": "symlink",
  "5": "directory",
};

/** Read every member of a tar archive; throws on a bad checksum, a truncated member or a missing end marker. */
export function readTar(b: Uint8Array): TarMember[] {
  const out: TarMember[] = [];
  let off = 0;
  let longName: string | undefined;
  let longLink: string | undefined;
  let paxNext: Record<string, string> = {};
  for (;;) {
    if (off + 512 > b.length) throw new Error("archive ends without its end-of-archive marker (truncated)");
    let zero = true;
    for (let i = off; i < off + 512; i++)
      if (b[i] !== 0) {
        zero = false;
        break;
      }
    if (zero) return out;
    if (!checksumOk(b, off)) throw new Error(`header checksum mismatch at byte ${off}`);
    const typeflag = str(b, off + 156, 1);
    const size = paxNext.size !== undefined ? Number(paxNext.size) : octal(b, off + 124, 12);
    const start = off + 512;
    if (!Number.isSafeInteger(size) || size < 0 || start + size > b.length)
      throw new Error(`member at byte ${off} runs past the end of the archive (truncated)`);
    const data = b.subarray(start, start + size);
    off = start + Math.ceil(size / 512) * 512;
    if (typeflag === "x") {
      paxNext = pax(data);
      continue;
    }
    if (typeflag === "g") continue;
    if (typeflag === "L") {
      longName = str(data, 0, data.length);
      continue;
    }
    if (typeflag === "K") {
      longLink = str(data, 0, data.length);
      continue;
    }
    const hdr = start - 512;
    let name = str(b, hdr, 100);
    if (str(b, hdr + 257, 5) === "ustar") {
      const prefix = str(b, hdr + 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    out.push({
      name: paxNext.path ?? longName ?? name,
      type: TYPES[typeflag] ?? "other",
      typeflag,
      mode: octal(b, hdr + 100, 8),
      linkname: paxNext.linkpath ?? longLink ?? str(b, hdr + 157, 100),
      data,
    });
    longName = undefined;
    longLink = undefined;
    paxNext = {};
  }
}
