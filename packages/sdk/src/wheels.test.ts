import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWheel, makeTempDir, type TestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerWorkspace } from "../test/serverWorkspace";
import { Environment } from "./environment";
import { isMlenvError } from "./errors";
import { addPrivatePipWheelFile } from "./node";
import { addPrivatePipWheel, WheelsClient } from "./wheels";
import type { Workspace } from "./workspace";

let server: TestServer;
let ws: Workspace;
beforeAll(async () => ({ server, ws } = await startServerWorkspace()));
afterAll(() => server?.stop());

describe("private wheels through the SDK against a real server", () => {
  it("addPrivatePipWheelFile (@mlenv/sdk/node) uploads a wheel file from disk", async () => {
    const dir = makeTempDir();
    try {
      const w = buildWheel({ name: "sdkfilewheel", version: "2.0" });
      const path = join(dir.path, w.filename);
      writeFileSync(path, w.bytes);
      const env = new Environment("with-wheel-file");
      const ref = await addPrivatePipWheelFile(ws, path, { environment: env });
      expect(ref).toBe(`mlenv+wheel://default/${w.filename}#sha256=${w.sha256}`);
      expect(env.python.condaDependencies.pipPackages).toEqual([ref]);
      await expect(
        addPrivatePipWheelFile(ws, join(dir.path, "missing-1.0-py3-none-any.whl")),
      ).rejects.toMatchObject({
        code: "E_INVALID_ARGUMENT",
      });
      await expect(addPrivatePipWheelFile(ws, join(dir.path, "notes.txt"))).rejects.toMatchObject({
        code: "E_INVALID_ARGUMENT",
      });
    } finally {
      dir.cleanup();
    }
  });

  it("addPrivatePipWheel uploads and puts the stable reference in the pip block", async () => {
    const env = new Environment("with-wheel");
    env.python.condaDependencies.addPipPackage("sdkwheel==0.9");
    const w = buildWheel({ name: "sdkwheel", version: "1.0" });
    const ref = await addPrivatePipWheel(ws, w, { environment: env });
    expect(ref).toBe(`mlenv+wheel://default/${w.filename}#sha256=${w.sha256}`);
    // Replaces the existing line for the same package, as the reference does.
    expect(env.python.condaDependencies.pipPackages).toEqual([ref]);
    // Same bytes again are fine; existOk: false refuses them.
    expect(await addPrivatePipWheel(ws, w)).toBe(ref);
    await expect(addPrivatePipWheel(ws, w, { existOk: false })).rejects.toMatchObject({
      code: "E_WHEEL_EXISTS",
    });
  });

  it("lists, shows, downloads, yanks, resolves and renders", async () => {
    const client = new WheelsClient(ws);
    const w = buildWheel({ name: "sdkwheel", version: "1.0" });
    const [listed] = await client.list({ project: "SDKWheel" });
    expect(listed?.filename).toBe(w.filename);
    expect((await client.show(w.filename)).revisions).toHaveLength(1);
    expect(await client.download(w.filename)).toEqual(w.bytes);
    expect((await client.yank(w.filename, "bad")).yankedReason).toBe("bad");
    expect((await client.unyank(w.filename)).yanked).toBe(false);
    const resolved = await client.resolve(`mlenv+wheel://default/${w.filename}`, { ttlSeconds: 60 });
    expect(new Uint8Array(await (await fetch(resolved.url)).arrayBuffer())).toEqual(w.bytes);
    const lines = await client.render(["numpy==2.1.0", `mlenv+wheel://default/${w.filename}`]);
    expect(lines[0]).toBe("numpy==2.1.0");
    expect(lines[1]).toMatch(/^sdkwheel @ http:\/\/127\.0\.0\.1:\d+\/pypi\/default\/signed\//);
    const index = await client.indexUrl({ credentials: true });
    expect(index).toBe(
      `${server.url.replace("http://", `http://__token__:${server.token}@`)}/pypi/default/simple/`,
    );
  });

  it("server refusals keep their codes", async () => {
    const client = new WheelsClient(ws);
    const other = buildWheel({
      name: "sdkwheel",
      version: "1.0",
      files: { "sdkwheel/__init__.py": "X = 2\n" },
    });
    try {
      await client.upload(other.filename, other.bytes);
      expect.unreachable();
    } catch (e) {
      expect(isMlenvError(e, "E_WHEEL_EXISTS")).toBe(true);
    }
    await expect(client.upload("evil;rm-1.0-py3-none-any.whl", other.bytes)).rejects.toMatchObject({
      code: "E_WHEEL_FILENAME_INVALID",
      status: 400,
    });
    const replaced = await client.upload(other.filename, other.bytes, { overwrite: true });
    expect(replaced.status).toBe("replaced");
  });
});

describe("wheels through the public SDK surface", () => {
  it("Environment.addPrivatePipWheel and Workspace.wheels use the workspace's fetch", async () => {
    const sdk = await import("./index");
    const seen: string[] = [];
    const counting: typeof fetch = (input, init) => {
      seen.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    };
    const wsCounting = new sdk.Workspace({ url: server.url, token: server.token, fetch: counting });
    const env = new sdk.Environment("public-wheel");
    const w = buildWheel({ name: "publicwheel", version: "2.0" });
    const ref = await sdk.Environment.addPrivatePipWheel(wsCounting, w, { environment: env });
    expect(ref).toBe(`mlenv+wheel://default/${w.filename}#sha256=${w.sha256}`);
    expect(env.python.condaDependencies.pipPackages).toEqual([ref]);
    expect(wsCounting.wheels).toBeInstanceOf(sdk.WheelsClient);
    const [listed] = await wsCounting.wheels.list({ project: "publicwheel" });
    expect(listed?.reference).toBe(ref);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((p) => p.includes("/wheels"))).toBe(true);
  });
});
