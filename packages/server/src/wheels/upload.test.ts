import { createHash } from "node:crypto";
import { createReadStream, readdirSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { buildWheel, makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlUploadWheel } from "../../test/helpers";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";
import { writeBigWheel } from "./bigWheel";

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

describe("streaming wheel uploads", () => {
  const dir = makeTempDir("mlenv-bigwheel-");
  let srv: WheelTestServer;
  let big: { path: string; filename: string };
  beforeAll(async () => {
    big = await writeBigWheel(dir.path, 160 * MiB);
    srv = await startWheelTestServer({ limits: { maxBytes: 200 * MiB } });
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  /** PUT a file with curl (another process, so only the server's memory is measured). */
  async function curlUpload(path: string, filename: string) {
    const base = process.memoryUsage().rss;
    let peak = base;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    try {
      const answer = await curlUploadWheel(srv, path, filename);
      return { ...answer, growth: Math.max(peak, process.memoryUsage().rss) - base };
    } finally {
      clearInterval(sampler);
    }
  }

  it("stores a 160 MiB wheel with memory growth well under its size", async () => {
    const size = statSync(big.path).size;
    expect(size).toBeGreaterThan(160 * MiB);
    // Validation runs in a worker thread, whose isolate (tens of MiB) is this process's memory
    // too, whatever the wheel's size: the growth of a tiny upload is the baseline.
    const tiny = buildWheel({ name: "tiny", version: "1.0", files: { "tiny/a.py": "A = 1\n" } });
    const tinyPath = join(dir.path, tiny.filename);
    writeFileSync(tinyPath, tiny.bytes);
    const baseline = await curlUpload(tinyPath, tiny.filename);
    expect(baseline.status, baseline.body).toBe(201);
    const started = performance.now();
    const { status, body: text, growth } = await curlUpload(big.path, big.filename);
    const ms = performance.now() - started;
    const body = JSON.parse(text) as { status: string; wheel: { sha256: string; size: number } };
    process.stderr.write(
      `160 MiB wheel: upload+validate ${ms.toFixed(0)} ms, peak RSS growth ${(growth / MiB).toFixed(1)} MiB (a tiny wheel: ${(baseline.growth / MiB).toFixed(1)} MiB)\n`,
    );
    expect(status, text).toBe(201);
    const sha256 = createHash("sha256")
      .update(await readFile(big.path))
      .digest("hex");
    expect(body.wheel.sha256).toBe(sha256);
    expect(body.wheel.size).toBe(size);
    // The blob is in place, byte for byte, and no temp file is left.
    const blob = join(srv.blobDir, "sha256", sha256.slice(0, 2), sha256);
    expect(statSync(blob).size).toBe(size);
    expect(blobFiles(join(srv.blobDir, "tmp"))).toEqual([]);
    // Held in memory, the body alone would be 160 MiB (and its inflated member another 160). What
    // the size adds is the validation worker's garbage before it collects (1 MiB pieces, external
    // memory V8 collects in batches of tens of MiB): 30-60 MiB measured, for 64 and 160 MiB alike.
    expect(growth - baseline.growth).toBeLessThan(size / 2);
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
