import { join } from "node:path";
import { parseDefinition } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import { describeOnEachDatabase, useTestServer } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import { VenvCache } from "./runs/venv";
import { startServer } from "./server";

describeOnEachDatabase("low-risk hardening", "hardening", ({ database }) => {
  const srv = useTestServer(startServer, { database });
  const call = async (method: string, path: string, body?: string, auth = `Bearer ${srv.token}`) => {
    const res = await fetch(srv.url + path, {
      method,
      headers: { authorization: auth, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body } : {}),
    });
    const text = await res.text();
    const isJson = (res.headers.get("content-type") ?? "").includes("json");
    return {
      status: res.status,
      json: (isJson && text ? JSON.parse(text) : {}) as Record<string, unknown>,
    };
  };

  it("answers 400, not 500, to deeply nested JSON", async () => {
    const deep = `${"[".repeat(20_000)}${"]".repeat(20_000)}`;
    const nested = `{"definition":{"name":"x","tags":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}}`;
    for (const [path, body] of [
      ["/api/v1/environments", deep],
      ["/api/v1/environments", nested],
      [
        "/api/v1/runs",
        `{"script":"a.py","environment":{"definition":${'{"a":'.repeat(5000)}1${"}".repeat(5000)}}}`,
      ],
    ] as const) {
      const res = await call("POST", path, body);
      expect(res.status, path).toBe(400);
    }
  });

  it("creates one workspace once under 20 concurrent requests; the others get 409", async () => {
    const statuses = await Promise.all(
      Array.from({ length: 20 }, () =>
        call("POST", "/api/v1/workspaces", JSON.stringify({ name: "racing-ws" })).then((r) => r.status),
      ),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s !== 201 && s !== 409)).toEqual([]);
  });

  it("lets only server admins (admins of default) create workspaces, not another workspace's admin", async () => {
    const tenant = await call("POST", "/api/v1/workspaces", JSON.stringify({ name: "tenant" }));
    expect(tenant.status).toBe(201);
    const tenantAdmin = `Bearer ${tenant.json.adminToken as string}`;
    const refused = await call("POST", "/api/v1/workspaces", JSON.stringify({ name: "rogue" }), tenantAdmin);
    expect([refused.status, refused.json.code]).toEqual([403, "E_FORBIDDEN"]);
    expect(String(refused.json.message)).toContain('admin token of the "default" workspace');
    // a default writer is no server admin either; a second admin of default is
    const writer = await call("POST", "/api/v1/tokens", JSON.stringify({ name: "w", role: "writer" }));
    const asWriter = `Bearer ${writer.json.token as string}`;
    expect(
      (await call("POST", "/api/v1/workspaces", JSON.stringify({ name: "rogue" }), asWriter)).status,
    ).toBe(403);
    const admin2 = await call("POST", "/api/v1/tokens", JSON.stringify({ name: "ops", role: "admin" }));
    const asAdmin2 = `Bearer ${admin2.json.token as string}`;
    expect(
      (await call("POST", "/api/v1/workspaces", JSON.stringify({ name: "ops-made" }), asAdmin2)).status,
    ).toBe(201);
  });

  it("refuses to revoke a workspace's only admin token", async () => {
    const created = await call("POST", "/api/v1/workspaces", JSON.stringify({ name: "lonely" }));
    const admin = created.json.adminToken as string;
    const as = (method: string, path: string, body?: string) => call(method, path, body, `Bearer ${admin}`);
    const mine = ((await as("GET", "/api/v1/whoami")).json as { tokenId: string }).tokenId;
    const refused = await as("DELETE", `/api/v1/tokens/${mine}`);
    expect(refused.status).toBe(409);
    expect(refused.json.code).toBe("E_CONFLICT");
    expect((await as("GET", "/api/v1/whoami")).status).toBe(200);
    const second = await as("POST", "/api/v1/tokens", JSON.stringify({ name: "second", role: "admin" }));
    expect(second.status).toBe(201);
    expect((await as("DELETE", `/api/v1/tokens/${mine}`)).status).toBe(204);
  });

  it("accepts Basic auth only under /pypi", async () => {
    const basic = `Basic ${Buffer.from(`__token__:${srv.token}`).toString("base64")}`;
    expect((await call("GET", "/pypi/default/simple/", undefined, basic)).status).toBe(200);
    expect((await call("GET", "/api/v1/wheels", undefined, basic)).status).toBe(401);
    expect((await call("PUT", "/api/v1/secrets/X", JSON.stringify({ value: "v" }), basic)).status).toBe(401);
    const upload = await fetch(`${srv.url}/upload/v1/wheels/demo-1.0-py3-none-any.whl`, {
      method: "PUT",
      headers: { authorization: basic, "content-type": "application/octet-stream" },
      body: new Uint8Array([80, 75, 3, 4]),
    });
    expect(upload.status).toBe(401);
    expect((await call("GET", "/api/v1/wheels")).status).toBe(200);
  });
});

describe("user-managed interpreters on a fresh server", () => {
  it("work before <data-dir>/venvs exists", async () => {
    const dir = makeTempDir("mlenv-fresh-venvs-");
    try {
      const venvs = new VenvCache({ root: join(dir.path, "venvs") });
      const definition = parseDefinition({
        name: "user-managed",
        python: { userManagedDependencies: true, interpreterPath: "python3" },
      });
      const out = await venvs.materialise({
        definition,
        imageKey: `mlenv1-sha256:${"a".repeat(64)}`,
        lock: null,
        log: () => {},
      });
      expect(out.python).toBe("python3");
    } finally {
      dir.cleanup();
    }
  });
});
