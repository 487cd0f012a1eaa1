import { statSync } from "node:fs";
import { join } from "node:path";
import { buildWheel, makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { generateToken } from "../auth";
import { startServer } from "../server";

const t = makeTempDir("mlenv-wheel-support-");
afterAll(() => t.cleanup());
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe("wheel support in startServer", () => {
  it("keeps the signing key in <dataDir>/signing-key (0600): signed URLs survive a restart", async () => {
    const dataDir = join(t.path, "data");
    const token = generateToken();
    const w = buildWheel({ name: "restart", version: "1.0" });
    const a = await startServer({ dataDir, bootstrapToken: token, logger: quiet });
    let path: string;
    try {
      const up = await fetch(`${a.url}/upload/v1/wheels/${w.filename}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
        body: w.bytes,
      });
      expect(up.status).toBe(201);
      const res = await fetch(`${a.url}/api/v1/wheels/resolve`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ reference: `mlenv+wheel://default/${w.filename}` }),
      });
      const url = new URL(((await res.json()) as { url: string }).url);
      path = `${url.pathname}${url.search}`;
    } finally {
      await a.close();
    }
    expect(statSync(join(dataDir, "signing-key")).mode & 0o777).toBe(0o600);
    const b = await startServer({ dataDir, logger: quiet });
    try {
      const again = await fetch(`${b.url}${path}`);
      expect(again.status).toBe(200);
      expect(new Uint8Array(await again.arrayBuffer())).toEqual(w.bytes);
    } finally {
      await b.close();
    }
  });

  it("maxWheelBytes (MLENV_MAX_WHEEL_BYTES) sets the upload limit", async () => {
    const token = generateToken();
    const s = await startServer({
      dataDir: join(t.path, "limited"),
      bootstrapToken: token,
      logger: quiet,
      wheels: { maxWheelBytes: 300 },
    });
    try {
      const w = buildWheel({ name: "limited", version: "1.0" });
      const res = await fetch(`${s.url}/upload/v1/wheels/${w.filename}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
        body: w.bytes,
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as { code: string }).code).toBe("E_WHEEL_TOO_LARGE");
    } finally {
      await s.close();
    }
  });
});
