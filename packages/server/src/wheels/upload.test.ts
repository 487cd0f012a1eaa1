import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, createWriteStream, readdirSync, statSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createDeflateRaw } from "node:zlib";
import { buildWheel, makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer, type WheelTestServer } from "./testServer";

const MiB = 1024 * 1024;

function blobFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((d) => d.isFile())
      .map((d) => join(d.parentPath, d.name));
  } catch {
    return [];
  }
}

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
async function writeBigWheel(dir: string, bytes: number): Promise<{ path: string; filename: string }> {
  const filename = "big_pkg-1.0-py3-none-any.whl";
  const deflated = join(dir, "data.deflate");
  const cipher = createCipheriv("aes-256-ctr", Buffer.alloc(32, 7), Buffer.alloc(16, 0));
  const sha = createHash("sha256");
  let crc = 0;
  async function* plain() {
    for (let done = 0; done < bytes; done += MiB) {
      const piece = cipher.update(Buffer.alloc(Math.min(MiB, bytes - done)));
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

describe("streaming wheel uploads", () => {
  const dir = makeTempDir("mlenv-bigwheel-");
  let srv: WheelTestServer;
  let big: { path: string; filename: string };
  beforeAll(async () => {
    big = await writeBigWheel(dir.path, 64 * MiB);
    srv = await startWheelTestServer({ limits: { maxBytes: 80 * MiB } });
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  it("stores a 64 MiB wheel with memory growth well under its size", async () => {
    const size = statSync(big.path).size;
    expect(size).toBeGreaterThan(64 * MiB);
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    const started = performance.now();
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        "curl",
        [
          "-sS",
          "-w",
          "\\n%{http_code}",
          "-T",
          big.path,
          "-H",
          `authorization: Bearer ${srv.token}`,
          `${srv.url}/upload/v1/wheels/${big.filename}`,
        ],
        { maxBuffer: 1 << 20 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const nl = out.lastIndexOf("\n");
    const res = { status: Number(out.slice(nl + 1)) };
    const body = JSON.parse(out.slice(0, nl)) as { status: string; wheel: { sha256: string; size: number } };
    const ms = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    const growth = peak - base;
    process.stderr.write(
      `64 MiB wheel: upload+validate ${ms.toFixed(0)} ms, peak RSS growth ${(growth / MiB).toFixed(1)} MiB\n`,
    );
    expect(res.status, JSON.stringify(body)).toBe(201);
    const sha256 = createHash("sha256")
      .update(await readFile(big.path))
      .digest("hex");
    expect(body.wheel.sha256).toBe(sha256);
    expect(body.wheel.size).toBe(size);
    // The blob is in place, byte for byte, and no temp file is left.
    const blob = join(srv.blobDir, "sha256", sha256.slice(0, 2), sha256);
    expect(statSync(blob).size).toBe(size);
    expect(blobFiles(join(srv.blobDir, "tmp"))).toEqual([]);
    // Held in memory, the body alone would be 64 MiB (and its inflated member another 64). The
    // client is curl, another process, so only the server's memory is measured.
    expect(growth).toBeLessThan(size / 4);
  }, 60_000);

  it("refuses a streamed body past the limit with 413 and leaves no file behind", async () => {
    const small = await startWheelTestServer({ limits: { maxBytes: 4 * MiB } });
    try {
      // No Content-Length (a stream), so the limit is enforced while counting bytes.
      const res = await fetch(`${small.url}/upload/v1/wheels/${big.filename}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${small.token}` },
        body: Readable.toWeb(createReadStream(big.path)) as ReadableStream,
        duplex: "half",
      } as RequestInit).catch((e: unknown) => e as Error);
      if (res instanceof Response) {
        expect(res.status).toBe(413);
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe("E_WHEEL_TOO_LARGE");
        expect(body.message).toContain(String(4 * MiB));
      }
      // Either way (the server may close the connection mid-body), nothing stays on disk.
      await new Promise((r) => setTimeout(r, 100));
      expect(blobFiles(small.blobDir)).toEqual([]);
      expect(await small.catalog.get(small.workspaceId, big.filename)).toBeNull();
    } finally {
      await small.close();
    }
  }, 60_000);
});

describe("racing uploads of one file name", () => {
  it("publishes one; the loser gets 409 and its bytes do not stay on disk", async () => {
    const srv = await startWheelTestServer({ holdLookups: 2 });
    try {
      const a = buildWheel({ name: "racer", version: "1.0", files: { "racer/a.py": "A = 1\n" } });
      const b = buildWheel({ name: "racer", version: "1.0", files: { "racer/b.py": "B = 2\n" } });
      expect(a.sha256).not.toBe(b.sha256);
      const send = (bytes: Uint8Array<ArrayBuffer>) =>
        fetch(`${srv.url}/upload/v1/wheels/${a.filename}`, {
          method: "PUT",
          headers: { authorization: `Bearer ${srv.token}` },
          body: bytes,
        });
      const [ra, rb] = await Promise.all([send(a.bytes), send(b.bytes)]);
      expect([ra.status, rb.status].sort()).toEqual([201, 409]);
      const loser = ra.status === 409 ? ra : rb;
      expect(((await loser.json()) as { code: string }).code).toBe("E_WHEEL_EXISTS");
      const winner = await srv.catalog.get(srv.workspaceId, a.filename);
      expect(winner).not.toBeNull();
      // On disk: exactly the winner's wheel and METADATA blobs, nothing else.
      const names = blobFiles(srv.blobDir)
        .map((f) => f.slice(f.lastIndexOf("/") + 1))
        .sort();
      expect(names).toEqual([winner!.sha256, winner!.metadataSha256].sort());
    } finally {
      await srv.close();
    }
  });
});
