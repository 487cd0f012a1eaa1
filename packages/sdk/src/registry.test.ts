import { createServer } from "node:net";
import { environments as E } from "@mlenv/api";
import type { TestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerWorkspace } from "../test/serverWorkspace";
import { Environment } from "./environment";
import { isMlenvError, type MlenvError } from "./errors";
import { Workspace } from "./workspace";

let server: TestServer;
let ws: Workspace;
beforeAll(async () => ({ server, ws } = await startServerWorkspace()));
afterAll(() => server?.stop());

async function failure(p: Promise<unknown>): Promise<MlenvError> {
  try {
    await p;
  } catch (e) {
    if (isMlenvError(e)) return e;
    throw e;
  }
  throw new Error("expected a failure");
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("Workspace + RegistryClient against a real server", () => {
  it("whoami names the workspace and role of the token", async () => {
    expect(await ws.environments.whoami()).toMatchObject({ workspace: "default", role: "admin" });
  });

  it("server errors keep their code, status and message", async () => {
    const bad = new Workspace({ url: server.url, token: "mlenv_wrong" });
    const unauth = await failure(bad.environments.list());
    expect([unauth.code, unauth.status]).toEqual(["E_UNAUTHENTICATED", 401]);
    const missing = await failure(ws.environments.get("no-such-env"));
    expect([missing.code, missing.status]).toEqual(["E_NOT_FOUND", 404]);
    const reserved = await failure(new Environment("mlenv-mine").register(ws));
    expect([reserved.code, reserved.status]).toEqual(["E_NAME_RESERVED", 403]);
  });

  it("an unreachable server is E_NETWORK naming the URL", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const e = await failure(new Workspace({ url, token: "t" }).environments.list());
    expect(e.code).toBe("E_NETWORK");
    expect(e.message).toContain(url);
  });

  it("refuses non-http URLs and URLs with credentials", () => {
    expect(() => new Workspace({ url: "file:///etc/passwd" })).toThrow(/http:\/\/ or https:\/\//);
    expect(() => new Workspace({ url: "http://u:p@127.0.0.1:1" })).toThrow(/without credentials/);
    expect(() => Workspace.fromEnv({})).toThrow(/MLENV_URL/);
  });

  it("names with URL metacharacters travel as one path segment", async () => {
    const e = await failure(ws.environments.get("../../healthz"));
    expect(e.code).toBe("E_NOT_FOUND");
  });

  it("call() sends a declared route: encoded path parameters, a typed query and body, the declared answer", async () => {
    const name = "call-demo";
    const reg = await ws.call(E.registerEnvironment, {
      body: { definition: new Environment(name).toJSON() as Record<string, unknown> },
    });
    expect(reg.environment).toMatchObject({ name, version: 1 });
    const label = await ws.call(E.setLabel, { params: { name, label: "prod" }, body: { version: 1 } });
    expect(label).toMatchObject({ label: "prod", version: 1 });
    const got = await ws.call(E.getEnvironment, { params: { name }, query: { label: "prod" } });
    expect(got.version).toBe(1);
    // "a b/c" reaches the route as one (refused) label, not as another path
    const slash = await failure(
      ws.call(E.setLabel, { params: { name, label: "a b/c" }, body: { version: 1 } }),
    );
    expect(slash.message).toContain('received "a b/c"');
    // a refusal keeps the server's code; a missing path value is a TypeError before any request
    const bad = await failure(ws.call(E.getEnvironment, { params: { name }, query: { version: 0 } }));
    expect(bad).toMatchObject({ code: "E_BAD_REQUEST", status: 400 });
    await expect(ws.call(E.listLabels, { params: {} as { name: string } })).rejects.toThrow(TypeError);
  });

  it("labels move between versions; archive hides from list; restore shows again", async () => {
    const env = new Environment("labelled");
    await env.register(ws);
    env.python.condaDependencies.addPipPackage("numpy==1.26.4");
    await env.register(ws);
    await ws.environments.setLabel("labelled", "production", 1);
    expect((await Environment.get(ws, "labelled", { label: "production" })).registration?.version).toBe(1);
    await ws.environments.setLabel("labelled", "production", 2);
    expect((await Environment.get(ws, "labelled", { label: "production" })).registration?.version).toBe(2);
    expect((await ws.environments.labels("labelled")).items).toMatchObject([
      { label: "production", version: 2 },
    ]);
    await ws.environments.archive("labelled");
    expect((await Environment.list(ws)).map((e) => e.name)).not.toContain("labelled");
    expect((await Environment.list(ws, { archived: "only" })).map((e) => e.name)).toEqual(["labelled"]);
    expect((await Environment.get(ws, "labelled", { version: 1 })).registration?.archived).toBe(true);
    // the reference passes the version as a string ("1"), as Environment.version holds it
    const byString = await Environment.get(ws, "labelled", { version: "1" });
    expect(byString.version).toBe("1");
    expect(
      (await Environment.get(ws, "labelled", { version: byString.version! })).registration?.version,
    ).toBe(1);
    await expect(Environment.get(ws, "labelled", { version: "1.5" })).rejects.toMatchObject({
      code: "E_INVALID_ARGUMENT",
    });
    await ws.environments.restore("labelled");
    expect((await Environment.list(ws)).map((e) => e.name)).toContain("labelled");
    await ws.environments.deleteLabel("labelled", "production");
    expect((await ws.environments.labels("labelled")).items).toEqual([]);
  });

  it("a curated environment is cloned to a new name at version 1, then editable", async () => {
    const copy = await Environment.cloneRegistered(ws, "mlenv-tutorial", "my-tutorial");
    expect(copy.registration).toMatchObject({ name: "my-tutorial", version: 1, curated: false });
    expect(copy.name).toBe("my-tutorial");
    copy.python.condaDependencies.addPipPackage("tqdm==4.66.4");
    expect((await copy.register(ws)).registration?.version).toBe(2);
  });

  it("list pages through every environment with a small page size", async () => {
    for (let i = 0; i < 5; i++) await new Environment(`paged-${i}`).register(ws);
    const all = await ws.environments.list({ prefix: "paged-", limit: 2 });
    expect(all.map((e) => e.name)).toEqual(["paged-0", "paged-1", "paged-2", "paged-3", "paged-4"]);
  });
});

describe("AdminClient against a real server", () => {
  it("a reader token shares read access: it can get and list but not register", async () => {
    const created = await ws.admin.createToken("colleague", "reader");
    expect(created).toMatchObject({ name: "colleague", role: "reader" });
    expect((await ws.admin.listTokens()).map((x) => x.name)).toContain("colleague");
    expect(JSON.stringify(await ws.admin.listTokens())).not.toContain(created.token);
    const reader = new Workspace({ url: server.url, token: created.token });
    expect((await Environment.list(reader)).length).toBeGreaterThan(0);
    const denied = await failure(new Environment("by-reader").register(reader));
    expect([denied.code, denied.status]).toEqual(["E_FORBIDDEN", 403]);
    await ws.admin.revokeToken(created.id);
    expect((await failure(reader.environments.list())).code).toBe("E_UNAUTHENTICATED");
  });

  it("a new workspace sees nothing of this one", async () => {
    const other = await ws.admin.createWorkspace("other-team");
    const ows = new Workspace({ url: server.url, token: other.adminToken });
    expect(await ows.environments.whoami()).toMatchObject({ workspace: "other-team", role: "admin" });
    expect((await failure(ows.environments.get("labelled"))).code).toBe("E_NOT_FOUND");
  });
});
