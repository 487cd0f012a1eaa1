import { statSync } from "node:fs";
import { makeTempDir, startTestServer, type TestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlUploadWheel } from "../../test/helpers";
import { startServer } from "../server";
import { writeBigWheel } from "./bigWheel";
import { WheelValidator } from "./wheelValidator";

const MiB = 1024 * 1024;

/** The value of a gauge in a Prometheus text page, or null when it is not there. */
function gauge(text: string, name: string): number | null {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : null;
}

describe("a hostile wheel upload does not stall the server", () => {
  const dir = makeTempDir("mlenv-hostile-wheel-");
  let srv: TestServer;
  let hostile: { path: string; filename: string };
  beforeAll(async () => {
    // a few MiB on the wire that inflate to 256 MiB (under the 200:1 ratio and 2 GiB limits)
    hostile = await writeBigWheel(dir.path, 256 * MiB, { sparse: true });
    srv = await startTestServer(startServer);
  }, 120_000);
  afterAll(async () => {
    await srv?.stop();
    dir.cleanup();
  });

  it("answers other requests while the upload is being validated", async () => {
    expect(statSync(hostile.path).size).toBeLessThan(16 * MiB);
    const upload = curlUploadWheel(srv, hostile.path, hostile.filename);
    let done = false;
    void upload.finally(() => {
      done = true;
    });
    const metrics = async () => (await fetch(`${srv.url}/metrics`)).text();
    // Wait until the server reports the validation running (a blocked event loop answers nothing).
    let seen = false;
    while (!done && !seen) {
      seen = gauge(await metrics(), "mlenv_wheel_validations_running") === 1;
      if (!seen) await new Promise((r) => setTimeout(r, 10));
    }
    expect(seen, "the server never answered /metrics while the wheel was validated").toBe(true);
    // A real API request completes while the validation still runs.
    const res = await fetch(`${srv.url}/api/v1/environments`, {
      headers: { authorization: `Bearer ${srv.token}` },
    });
    expect(res.status).toBe(200);
    expect(gauge(await metrics(), "mlenv_wheel_validations_running")).toBe(1);
    expect(done).toBe(false);
    const { status, body } = await upload;
    expect(status, body).toBe(201);
    expect(gauge(await metrics(), "mlenv_wheel_validations_running")).toBe(0);
  }, 120_000);

  it("stops a validation past its time limit and refuses the wheel (E_WHEEL_ZIP_BOMB)", async () => {
    const validator = new WheelValidator({ timeoutMs: 300 });
    const err = await validator
      .validateFile(hostile.filename, hostile.path, {}, { sha256: "0".repeat(64) })
      .catch((e: unknown) => e as { code?: string; message: string });
    expect(err).toMatchObject({ code: "E_WHEEL_ZIP_BOMB" });
    expect((err as Error).message).toContain("within 300 ms");
    expect(validator.running).toBe(0);
  }, 60_000);

  it("runs at most maxConcurrent validations at once; the rest wait their turn", async () => {
    const validator = new WheelValidator({ maxConcurrent: 1, timeoutMs: 300 });
    const runs = [0, 1, 2].map(() =>
      validator
        .validateFile(hostile.filename, hostile.path, {}, { sha256: "0".repeat(64) })
        .catch(() => null),
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(validator.running).toBe(1);
    expect(validator.waiting).toBe(2);
    await Promise.all(runs);
    expect(validator.running + validator.waiting).toBe(0);
  }, 60_000);
});
