import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlUploadWheel } from "../../test/helpers";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";
import { writeBigWheel } from "../wheels/bigWheel";
import { parseRange } from "./blobResponse";

const MiB = 1024 * 1024;

describe("parseRange", () => {
  it("reads the three single-range forms and refuses what lies past the end", () => {
    expect(parseRange(undefined, 100)).toBeNull();
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=90-500", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-500", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    // ignored (the whole blob is sent): other units, several ranges, malformed or reversed
    for (const h of ["items=0-1", "bytes=0-1,5-6", "bytes=x-1", "bytes=-", "bytes=9-1"]) {
      expect(parseRange(h, 100)).toBeNull();
    }
  });
});

describe("blob downloads stream from disk, with Range support", () => {
  const dir = makeTempDir("mlenv-blobstream-");
  let srv: WheelTestServer;
  let wheel: { path: string; filename: string };
  let bytes: Buffer;
  let sha256: string;
  beforeAll(async () => {
    wheel = await writeBigWheel(dir.path, 32 * MiB);
    bytes = readFileSync(wheel.path);
    sha256 = createHash("sha256").update(bytes).digest("hex");
    srv = await startWheelTestServer({ limits: { maxBytes: 64 * MiB } });
    const { status, body } = await curlUploadWheel(srv, wheel.path, wheel.filename);
    expect(status, body).toBe(201);
  }, 120_000);
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  const auth = () => ({ authorization: `Bearer ${srv.token}` });
  const routes = () => {
    const signed = srv.signer.signFor({ workspace: "default", sha256, filename: wheel.filename });
    return {
      download: `/api/v1/wheels/${wheel.filename}/download`,
      index: `/pypi/default/files/${sha256}/${wheel.filename}`,
      signed: `/pypi/default/signed/${sha256}/${wheel.filename}?${signed.query}`,
    };
  };

  it("answers Range requests with 206 and exactly the bytes asked for, on every download route", async () => {
    for (const [name, path] of Object.entries(routes())) {
      const get = (range?: string) =>
        fetch(srv.url + path, { headers: { ...auth(), ...(range ? { range } : {}) } });
      const mid = await get("bytes=1000-1999");
      expect(mid.status, name).toBe(206);
      expect(mid.headers.get("content-range"), name).toBe(`bytes 1000-1999/${bytes.length}`);
      expect(mid.headers.get("content-length"), name).toBe("1000");
      expect(Buffer.from(await mid.arrayBuffer()).equals(bytes.subarray(1000, 2000)), name).toBe(true);
      const tail = await get("bytes=-4096");
      expect(tail.status, name).toBe(206);
      expect(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(bytes.length - 4096)), name).toBe(
        true,
      );
      const from = await get(`bytes=${bytes.length - 10}-`);
      expect(Buffer.from(await from.arrayBuffer()).equals(bytes.subarray(bytes.length - 10)), name).toBe(
        true,
      );
      const past = await get(`bytes=${bytes.length}-`);
      expect(past.status, name).toBe(416);
      expect(past.headers.get("content-range"), name).toBe(`bytes */${bytes.length}`);
      await past.arrayBuffer();
      // If-Range naming another version: the whole (current) file
      const stale = await fetch(srv.url + path, {
        headers: { ...auth(), range: "bytes=0-9", "if-range": '"0000"' },
      });
      expect(stale.status, name).toBe(200);
      expect(stale.headers.get("accept-ranges"), name).toBe("bytes");
      const whole = Buffer.from(await stale.arrayBuffer());
      expect(createHash("sha256").update(whole).digest("hex"), name).toBe(sha256);
    }
  }, 60_000);

  it("sends the first bytes before the blob is read to its end", async () => {
    // Read the first chunk of the download, then stop reading. Meanwhile the end of the blob on
    // disk changes: a server that read the whole file before answering sends the old end; one that
    // streams (reading as the client takes bytes) sends the new one.
    const blobPath = join(srv.blobDir, "sha256", sha256.slice(0, 2), sha256);
    const tailStart = bytes.length - MiB;
    const received: Buffer[] = [];
    await new Promise<void>((resolve, reject) => {
      const u = new URL(routes().download, srv.url);
      const req = request({ host: u.hostname, port: u.port, path: u.pathname, headers: auth() }, (res) => {
        expect(res.statusCode).toBe(200);
        let first = true;
        res.on("data", (chunk: Buffer) => {
          received.push(chunk);
          if (!first) return;
          first = false;
          res.pause();
          const fd = openSync(blobPath, "r+");
          try {
            writeSync(fd, Buffer.alloc(MiB, 0xaa), 0, MiB, tailStart);
          } finally {
            closeSync(fd);
          }
          setTimeout(() => res.resume(), 50);
        });
        res.on("end", () => resolve());
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end();
    });
    const got = Buffer.concat(received);
    expect(got.length).toBe(bytes.length);
    expect(got.subarray(0, tailStart).equals(bytes.subarray(0, tailStart))).toBe(true);
    expect(got.subarray(tailStart).equals(Buffer.alloc(MiB, 0xaa))).toBe(true);
    // put the blob back for other tests
    const fd = openSync(blobPath, "r+");
    writeSync(fd, bytes, tailStart, MiB, tailStart);
    closeSync(fd);
  }, 60_000);
});
