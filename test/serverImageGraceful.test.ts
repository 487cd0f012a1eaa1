import { randomBytes } from "node:crypto";
import { request } from "node:http";
import { startServer } from "@mlenv/server";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";

const dir = makeTempDir("mlenv-graceful-");
afterAll(() => dir.cleanup());

// What the server image relies on for `docker stop`: close() lets a request in flight finish.
describe("graceful shutdown", () => {
  it("answers a request whose body is still arriving when close() starts, then refuses new ones", async () => {
    const { silentLogger } = await import("@mlenv/server");
    const token = `mlenv_${randomBytes(32).toString("base64url")}`;
    const srv = await startServer({
      dataDir: dir.path,
      host: "127.0.0.1",
      port: 0,
      logger: silentLogger,
      bootstrapToken: token,
    });
    const body = Buffer.alloc(4096, 1);
    const answered = new Promise<number>((resolve, reject) => {
      const req = request(
        `${srv.url}/upload/v1/wheels/slow-1.0-py3-none-any.whl`,
        {
          method: "PUT",
          headers: { authorization: `Bearer ${token}`, "content-length": String(body.length) },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.write(body.subarray(0, 1024));
      setTimeout(() => req.end(body.subarray(1024)), 500);
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = srv.close();
    // The upload handler reads the whole body, then refuses the bytes (not a wheel): it answers
    // 400 instead of the connection being reset under it.
    expect(await answered).toBe(400);
    await closing;
    await expect(fetch(`${srv.url}/healthz`)).rejects.toThrow();
  });
});
