import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { startServer } from "@mlenv/server";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Environment } from "./environment";
import { Workspace } from "./workspace";

/**
 * `env.build(ws)` builds what the object defines (issue 15): it registers first, as the reference
 * does. The server has no Docker engine, so the jobs fail later; what is checked is which
 * version and image each job was made for.
 */
describe("Environment.build builds the object's definition", () => {
  const dir = makeTempDir("mlenv-sdk-build-");
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  let srv: Awaited<ReturnType<typeof startServer>>;
  let ws: Workspace;
  beforeAll(async () => {
    srv = await startServer({
      dataDir: dir.path,
      bootstrapToken: admin,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      builds: { dockerHost: `unix://${join(dir.path, "no-engine.sock")}`, pollMs: 50 },
    });
    ws = new Workspace({ url: srv.url, token: admin });
  });
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  it("registers an unregistered environment (version 1) and builds it", async () => {
    const env = new Environment("build-new");
    const build = await env.build(ws);
    expect(build.info.context).toMatchObject({ environment: "build-new", version: 1 });
    expect(env.version).toBe("1");
    const registered = await Environment.get(ws, "build-new");
    expect(build.info.imageKey).toBe(registered.registration?.imageKey);
  });

  it("builds a fetched environment edited locally as a new version, not the old one", async () => {
    const fetched = await Environment.get(ws, "build-new");
    const before = fetched.registration?.imageKey;
    fetched.python.condaDependencies.addPipPackage("six==1.16.0");
    const build = await fetched.build(ws);
    expect(build.info.context).toMatchObject({ environment: "build-new", version: 2 });
    expect(build.info.imageKey).not.toBe(before);
    expect(fetched.version).toBe("2");
    const v2 = await Environment.get(ws, "build-new", { version: 2 });
    expect(v2.python.condaDependencies.pipPackages).toContain("six==1.16.0");
    expect(build.info.imageKey).toBe(v2.registration?.imageKey);
    // unchanged: the same version again, nothing registered
    const again = await fetched.build(ws);
    expect(again.info.context).toMatchObject({ version: 2 });
    expect((await ws.environments.get("build-new")).version).toBe(2);
  });

  it("builds a curated environment as fetched (its name is reserved, nothing is registered)", async () => {
    const curated = await Environment.get(ws, "mlenv-minimal");
    const build = await curated.build(ws);
    expect(build.info.context).toMatchObject({ environment: "mlenv-minimal", version: 1 });
    curated.python.condaDependencies.addPipPackage("six==1.16.0");
    await expect(curated.build(ws)).rejects.toMatchObject({ code: "E_NAME_RESERVED" });
  });
});
