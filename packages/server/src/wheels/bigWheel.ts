import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, createWriteStream, statSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createDeflateRaw } from "node:zlib";

/* Tests only: large wheels written to disk without holding them in memory. */

const MiB = 1024 * 1024;

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

interface Member {
  name: string;
  method: 0 | 8;
  crc: number;
  csize: number;
  usize: number;
  /** Stored bytes, or a file holding the deflated data. */
  data: Buffer | string;
}

/**
 * Write a wheel of about `bytes` bytes to `dir` without holding it in memory: one deflated
 * member of incompressible pseudo-random data (AES-CTR keystream), plus METADATA, WHEEL, RECORD.
 */
export async function writeBigWheel(
  dir: string,
  bytes: number,
  options: { sparse?: boolean } = {},
): Promise<{ path: string; filename: string }> {
  const filename = "big_pkg-1.0-py3-none-any.whl";
  const deflated = join(dir, "data.deflate");
  const cipher = createCipheriv("aes-256-ctr", Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  const sha = createHash("sha256");
  let crc = 0;
  async function* plain() {
    for (let done = 0; done < bytes; done += MiB) {
      const n = Math.min(MiB, bytes - done);
      let piece: Buffer;
      if (options.sparse) {
        // 32 random bytes per 4 KiB, zeros otherwise: deflates about 60:1 (under the ratio limit),
        // so a small upload is a lot of inflating and hashing
        piece = Buffer.alloc(n);
        for (let at = 0; at < n; at += 4096) cipher.update(Buffer.alloc(32)).copy(piece, at);
      } else piece = cipher.update(Buffer.alloc(n));
      sha.update(piece);
      crc = crc32(piece, crc);
      yield piece;
    }
  }
  await pipeline(Readable.from(plain()), createDeflateRaw({ level: 1 }), createWriteStream(deflated));
  const stored = (name: string, text: string): Member => {
    const data = Buffer.from(text);
    return { name, method: 0, crc: crc32(data), csize: data.length, usize: data.length, data };
  };
  const recordLine = (m: Member) =>
    `${m.name},sha256=${createHash("sha256")
      .update(m.data as Buffer)
      .digest("base64url")},${m.usize}`;
  const metadata = stored(
    "big_pkg-1.0.dist-info/METADATA",
    "Metadata-Version: 2.1\nName: big-pkg\nVersion: 1.0\n",
  );
  const wheel = stored(
    "big_pkg-1.0.dist-info/WHEEL",
    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
  );
  const init = stored("big_pkg/__init__.py", "");
  const big: Member = {
    name: "big_pkg/data.bin",
    method: 8,
    crc,
    csize: statSync(deflated).size,
    usize: bytes,
    data: deflated,
  };
  const record = stored(
    "big_pkg-1.0.dist-info/RECORD",
    [
      ...[init, metadata, wheel].map(recordLine),
      `${big.name},sha256=${sha.digest("base64url")},${bytes}`,
      "big_pkg-1.0.dist-info/RECORD,,",
      "",
    ].join("\n"),
  );
  const members = [init, big, metadata, wheel, record];
  const path = join(dir, filename);
  const out = await open(path, "w");
  let offset = 0;
  const write = async (b: Buffer) => {
    await out.write(b);
    offset += b.length;
  };
  const central: Buffer[] = [];
  for (const m of members) {
    const name = Buffer.from(m.name);
    const fields = [
      u16(20),
      u16(0),
      u16(m.method),
      u16(0),
      u16(0x21),
      u32(m.crc),
      u32(m.csize),
      u32(m.usize),
    ];
    central.push(
      Buffer.concat([
        u32(0x02014b50),
        u16(20),
        ...fields,
        u16(name.length),
        u16(0),
        u16(0),
        u16(0),
        u16(0),
        u32(0),
        u32(offset),
        name,
      ]),
    );
    await write(Buffer.concat([u32(0x04034b50), ...fields, u16(name.length), u16(0), name]));
    if (typeof m.data !== "string") await write(m.data);
    else for await (const piece of createReadStream(m.data)) await write(piece as Buffer);
  }
  const cdOffset = offset;
  const cd = Buffer.concat(central);
  await write(cd);
  await write(
    Buffer.concat([
      u32(0x06054b50),
      u16(0),
      u16(0),
      u16(members.length),
      u16(members.length),
      u32(cd.length),
      u32(cdOffset),
      u16(0),
    ]),
  );
  await out.close();
  return { path, filename };
}
