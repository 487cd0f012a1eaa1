import { statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { definitionHash, parseDefinition } from "@mlenv/core";
import { startTestServer } from "@mlenv/test-utils";
import { describeOnEachDatabase, describeWithPostgres, useTestServer } from "@mlenv/test-utils/fixtures";
import { beforeAll, describe, expect, it } from "vitest";
import { pipDefinition, spawnServer } from "../test/helpers";
import { startServer } from "./server";
import { loadServerSettings, serverOptionsFromSettings } from "./settings";

// biome-ignore lint/suspicious/noExplicitAny: test assertions walk arbitrary JSON responses
type Json = Record<string, any>;

function client(url: string, token: string | null) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    raw?: string,
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined || raw !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(raw !== undefined ? { body: raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  };
}

describeOnEachDatabase("registry over HTTP", "registry_http", ({ name, database }) => {
  const srv = useTestServer(startServer, { database });
  let api: ReturnType<typeof client>;
  beforeAll(() => {
    api = client(srv.url, srv.token);
  });

  it("serves /healthz and an OpenAPI 3.1 document of every route", async () => {
    const h = await client(srv.url, null)("GET", "/healthz");
    expect(h).toEqual({ status: 200, json: { status: "ok", store: name } });
    const doc = (await client(srv.url, null)("GET", "/openapi.json")).json;
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/api/v1/environments",
        "/api/v1/environments/{name}",
        "/api/v1/environments/{name}/labels/{label}",
        "/api/v1/tokens",
      ]),
    );
    const reg = doc.paths["/api/v1/environments"].post;
    expect(reg.requestBody.content["application/json"].schema.required).toEqual(["definition"]);
    expect(reg.responses["201"].content["application/json"].schema.properties.environment).toBeDefined();
  });

  it("requires a live token of a sufficient role", async () => {
    expect((await client(srv.url, null)("GET", "/api/v1/environments")).json.code).toBe("E_UNAUTHENTICATED");
    expect((await client(srv.url, "mlenv_nope")("GET", "/api/v1/environments")).status).toBe(401);
    const who = await api("GET", "/api/v1/whoami");
    expect(who.json).toMatchObject({ workspace: "default", role: "admin" });

    const reader = await api("POST", "/api/v1/tokens", { name: "viewer", role: "reader" });
    expect(reader.status).toBe(201);
    expect(reader.json.token).toMatch(/^mlenv_/);
    const asReader = client(srv.url, reader.json.token);
    expect((await asReader("GET", "/api/v1/environments")).status).toBe(200);
    const denied = await asReader("POST", "/api/v1/environments", { definition: pipDefinition("r1") });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({
      code: "E_FORBIDDEN",
      details: { required: "writer", role: "reader" },
    });
    expect((await asReader("POST", "/api/v1/tokens", { name: "x", role: "admin" })).status).toBe(403);
    expect((await api("GET", "/api/v1/environments/r1")).status).toBe(404);

    const listed = (await api("GET", "/api/v1/tokens")).json.items as Json[];
    expect(listed.map((t) => t.name)).toContain("viewer");
    expect(JSON.stringify(listed)).not.toContain(reader.json.token);
    expect((await api("DELETE", `/api/v1/tokens/${reader.json.id}`)).status).toBe(204);
    expect((await asReader("GET", "/api/v1/environments")).status).toBe(401);
    expect((await api("DELETE", `/api/v1/tokens/${reader.json.id}`)).json.code).toBe("E_NOT_FOUND");
  });

  it("registers versions: new hash bumps, same hash does not, versions are immutable", async () => {
    const v1 = await api("POST", "/api/v1/environments", {
      definition: pipDefinition("train", ["requests==2.32.3"]),
    });
    expect(v1.status).toBe(201);
    expect(v1.json.created).toBe(true);
    expect(v1.json.environment).toMatchObject({
      name: "train",
      version: 1,
      curated: false,
      archived: false,
    });
    expect(v1.json.environment.definitionHash).toBe(definitionHash(parseDefinition(pipDefinition("train"))));
    expect(v1.json.environment.definition.version).toBe("1");

    // Key order and description/tags do not change the hash: still version 1.
    const reordered = { ...pipDefinition("train"), description: "again", tags: { team: "a" } };
    const same = await api("POST", "/api/v1/environments", {
      definition: Object.fromEntries(Object.entries(reordered).reverse()),
    });
    expect(same.status).toBe(200);
    expect(same.json).toMatchObject({ created: false, environment: { version: 1, description: null } });

    const v2 = await api("POST", "/api/v1/environments", {
      definition: pipDefinition("train", ["requests==2.32.4"], {
        tags: { team: "ml" },
        description: "bumped",
      }),
    });
    expect(v2.json.environment).toMatchObject({ version: 2, tags: { team: "ml" }, description: "bumped" });
    expect(v2.json.environment.definitionHash).not.toBe(v1.json.environment.definitionHash);

    const latest = await api("GET", "/api/v1/environments/train");
    expect(latest.json.version).toBe(2);
    const first = await api("GET", "/api/v1/environments/train/versions/1");
    expect(first.json.definition).toEqual(v1.json.environment.definition);
    expect((await api("GET", "/api/v1/environments/train?version=1")).json.definitionHash).toBe(
      v1.json.environment.definitionHash,
    );
    const missing = await api("GET", "/api/v1/environments/train/versions/9");
    expect(missing).toMatchObject({
      status: 404,
      json: { code: "E_NOT_FOUND", details: { latestVersion: 2 } },
    });
    expect((await api("GET", "/api/v1/environments/train/versions/0")).json.code).toBe("E_BAD_REQUEST");

    const hist = await api("GET", "/api/v1/environments/train/versions");
    expect(hist.json.items.map((v: Json) => v.version)).toEqual([1, 2]);
    expect(hist.json.items[0].definition).toBeUndefined();
  });

  it("diffs two versions with core's diffDefinitions", async () => {
    const d = await api("GET", "/api/v1/environments/train/diff?from=1&to=2");
    expect(d.status).toBe(200);
    expect(d.json).toMatchObject({ name: "train", from: 1, to: 2, changes: { equal: false } });
    expect(d.json.changes.pip).toEqual([
      expect.objectContaining({
        name: "requests",
        change: "changed",
        oldConstraint: "==2.32.3",
        newConstraint: "==2.32.4",
      }),
    ]);
    expect(d.json.fromHash).not.toBe(d.json.toHash);
    expect(JSON.stringify(d.json.changes.other)).not.toContain('"version"');
    expect((await api("GET", "/api/v1/environments/train/diff?from=1&to=1")).json.changes.equal).toBe(true);
    expect((await api("GET", "/api/v1/environments/train/diff?from=1&to=9")).json.code).toBe("E_NOT_FOUND");
    expect((await api("GET", "/api/v1/environments/train/diff?from=1")).json.code).toBe("E_BAD_REQUEST");
  });

  it("moves labels and gets by label", async () => {
    await api("POST", "/api/v1/environments", { definition: pipDefinition("lab", ["a==1"]) });
    await api("POST", "/api/v1/environments", { definition: pipDefinition("lab", ["a==2"]) });
    expect(
      (await api("PUT", "/api/v1/environments/lab/labels/production", { version: 1 })).json,
    ).toMatchObject({
      label: "production",
      version: 1,
    });
    const byLabel = await api("GET", "/api/v1/environments/lab?label=production");
    expect(byLabel.json).toMatchObject({ version: 1, labels: ["production"] });
    await api("PUT", "/api/v1/environments/lab/labels/production", { version: 2 });
    expect((await api("GET", "/api/v1/environments/lab?label=production")).json.version).toBe(2);
    expect((await api("GET", "/api/v1/environments/lab/versions/1")).json.labels).toEqual([]);
    expect((await api("PUT", "/api/v1/environments/lab/labels/production", { version: 7 })).status).toBe(404);
    expect((await api("PUT", "/api/v1/environments/lab/labels/bad%20label", { version: 1 })).status).toBe(
      400,
    );
    expect((await api("GET", "/api/v1/environments/lab/labels")).json.items).toHaveLength(1);
    expect((await api("DELETE", "/api/v1/environments/lab/labels/production")).status).toBe(204);
    expect((await api("GET", "/api/v1/environments/lab?label=production")).status).toBe(404);
    expect((await api("GET", "/api/v1/environments/lab?label=x&version=1")).json.code).toBe("E_BAD_REQUEST");
  });

  it("lists the latest of each, with prefix, tag, paging and archive filters", async () => {
    for (const n of ["pg-c", "pg-a", "pg-b"]) {
      await api("POST", "/api/v1/environments", {
        definition: pipDefinition(n, ["x==1"], { tags: { team: n === "pg-b" ? "b" : "a" } }),
      });
    }
    await api("POST", "/api/v1/environments", {
      definition: pipDefinition("pg-a", ["x==2"], { tags: { team: "a", gpu: "1" } }),
    });
    const all = await api("GET", "/api/v1/environments?prefix=pg-");
    expect(all.json.items.map((e: Json) => [e.name, e.version, e.versionCount])).toEqual([
      ["pg-a", 2, 2],
      ["pg-b", 1, 1],
      ["pg-c", 1, 1],
    ]);
    expect(all.json.items[0].definition).toBeUndefined();
    expect(all.json.nextCursor).toBeNull();
    const p1 = await api("GET", "/api/v1/environments?prefix=pg-&limit=2");
    expect(p1.json.items).toHaveLength(2);
    const p2 = await api("GET", `/api/v1/environments?prefix=pg-&limit=2&cursor=${p1.json.nextCursor}`);
    expect(p2.json).toMatchObject({ items: [{ name: "pg-c" }], nextCursor: null });
    expect(
      (await api("GET", "/api/v1/environments?prefix=pg-&tag=team=a")).json.items.map((e: Json) => e.name),
    ).toEqual(["pg-a", "pg-c"]);
    expect((await api("GET", "/api/v1/environments?tag=gpu")).json.items.map((e: Json) => e.name)).toEqual([
      "pg-a",
    ]);
    expect((await api("GET", "/api/v1/environments?limit=0")).json.code).toBe("E_BAD_REQUEST");
    expect((await api("GET", "/api/v1/environments?limit=501")).status).toBe(400);
    expect((await api("GET", "/api/v1/environments?bogus=1")).status).toBe(400);
    expect((await api("GET", "/api/v1/environments?cursor=%2F%2F")).status).toBe(400);

    const archived = await api("POST", "/api/v1/environments/pg-b/archive");
    expect(archived.json).toMatchObject({ name: "pg-b", archived: true });
    expect((await api("GET", "/api/v1/environments?prefix=pg-")).json.items.map((e: Json) => e.name)).toEqual(
      ["pg-a", "pg-c"],
    );
    expect(
      (await api("GET", "/api/v1/environments?archived=only")).json.items.map((e: Json) => e.name),
    ).toEqual(["pg-b"]);
    expect((await api("GET", "/api/v1/environments/pg-b/versions/1")).json).toMatchObject({
      version: 1,
      archived: true,
    });
    expect((await api("POST", "/api/v1/environments/pg-b/restore")).json.archived).toBe(false);
    expect((await api("GET", "/api/v1/environments?prefix=pg-")).json.items).toHaveLength(3);
  });

  it("seeds read-only curated environments and refuses the reserved prefix", async () => {
    const curated = await api("GET", "/api/v1/environments?prefix=mlenv-");
    expect(curated.json.items.map((e: Json) => [e.name, e.curated])).toEqual([
      ["mlenv-minimal", true],
      ["mlenv-tutorial", true],
    ]);
    const tut = await api("GET", "/api/v1/environments/mlenv-tutorial");
    const pip = JSON.stringify(tut.json.definition.python.condaDependencies);
    for (const p of ["pandas", "numpy", "scikit-learn", "matplotlib", "tqdm"]) expect(pip).toContain(p);

    const reserved = await api("POST", "/api/v1/environments", { definition: pipDefinition("mlenv-mine") });
    expect(reserved).toMatchObject({ status: 403, json: { code: "E_NAME_RESERVED" } });
    const upper = await api("POST", "/api/v1/environments", { definition: pipDefinition("MLENV-mine") });
    expect(upper.json.code).toBe("E_NAME_RESERVED");
    expect((await api("POST", "/api/v1/environments/mlenv-minimal/archive")).json.code).toBe("E_READ_ONLY");
    expect(
      (await api("PUT", "/api/v1/environments/mlenv-minimal/labels/prod", { version: 1 })).json.code,
    ).toBe("E_READ_ONLY");

    const clone = await api("POST", "/api/v1/environments/mlenv-tutorial/clone", {
      newName: "my-tutorial",
    });
    expect(clone.status).toBe(201);
    expect(clone.json.environment).toMatchObject({ name: "my-tutorial", version: 1, curated: false });
    expect(clone.json.environment.definitionHash).toBe(tut.json.definitionHash);
    expect(clone.json.environment.tags.curated).toBeUndefined();
    const again = await api("POST", "/api/v1/environments/mlenv-tutorial/clone", {
      newName: "my-tutorial",
    });
    expect(again.json.code).toBe("E_CONFLICT");
    expect(
      (await api("POST", "/api/v1/environments/mlenv-tutorial/clone", { newName: "mlenv-x" })).json.code,
    ).toBe("E_NAME_RESERVED");
  });

  it("answers bad input with JSON errors and changes nothing", async () => {
    const before = await api("GET", "/api/v1/environments?archived=true&limit=500");
    const tokensBefore = await api("GET", "/api/v1/tokens");
    const historyBefore = await api("GET", "/api/v1/environments/train/versions");
    const labelsBefore = await api("GET", "/api/v1/environments/train/labels");
    const cases: Array<[string, string, unknown, string | undefined, number, string | undefined]> = [
      ["POST", "/api/v1/environments", undefined, "{not json", 400, "E_BAD_REQUEST"],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("ok"), extra: 1 },
        undefined,
        400,
        "E_BAD_REQUEST",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: { python: {} } },
        undefined,
        400,
        "E_DEFINITION_INVALID",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: { name: "x", python: { userManagedDependencies: "yes" } } },
        undefined,
        400,
        "E_DEFINITION_INVALID",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("../etc/passwd") },
        undefined,
        400,
        "E_NAME_INVALID",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("a b; rm -rf /") },
        undefined,
        400,
        "E_NAME_INVALID",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("x".repeat(256)) },
        undefined,
        400,
        "E_NAME_INVALID",
      ],
      ["PUT", "/api/v1/environments/train/labels/prod", { version: "1" }, undefined, 400, "E_BAD_REQUEST"],
      ["POST", "/api/v1/environments/train/clone", { newName: "bad/name" }, undefined, 400, "E_NAME_INVALID"],
      ["POST", "/api/v1/environments/nope/archive", undefined, undefined, 404, "E_NOT_FOUND"],
      ["POST", "/api/v1/tokens", { name: "t", role: "root" }, undefined, 400, "E_BAD_REQUEST"],
      ["POST", "/api/v1/workspaces", { name: "Bad Name" }, undefined, 400, "E_NAME_INVALID"],
      ["GET", "/api/v1/nothing-here", undefined, undefined, 404, "E_NOT_FOUND"],
      ["GET", "/api/v1/environments/train/versions/9999999999", undefined, undefined, 400, "E_BAD_REQUEST"],
      ["GET", "/api/v1/environments/train?version=2147483648", undefined, undefined, 400, "E_BAD_REQUEST"],
      [
        "GET",
        "/api/v1/environments/train/diff?from=1&to=99999999999",
        undefined,
        undefined,
        400,
        "E_BAD_REQUEST",
      ],
      ["PUT", "/api/v1/environments/train/labels/p", { version: 2 ** 40 }, undefined, 400, "E_BAD_REQUEST"],
      [
        "POST",
        "/api/v1/environments/train/clone",
        { newName: "c", version: 2 ** 31 },
        undefined,
        400,
        "E_BAD_REQUEST",
      ],
      ["GET", "/api/v1/environments/train?label=%00%27%3B", undefined, undefined, 400, "E_BAD_REQUEST"],
      [
        "GET",
        "/api/v1/environments/train?label=%27%3B%20DROP%20TABLE%20x",
        undefined,
        undefined,
        404,
        "E_NOT_FOUND",
      ],
      ["GET", "/api/v1/environments?prefix=%27%20OR%201%3D1--", undefined, undefined, 200, undefined],
      ["GET", "/api/v1/environments/tr%00ain", undefined, undefined, 400, "E_BAD_REQUEST"],
      ["GET", "/api/v1/environments?tag=a%00b", undefined, undefined, 400, "E_BAD_REQUEST"],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("nul", ["a==1"], { tags: { k: "v\u0000" } }) },
        undefined,
        400,
        "E_BAD_REQUEST",
      ],
      [
        "POST",
        "/api/v1/environments",
        { definition: pipDefinition("nul", ["a==1"], { description: "x\u0000" }) },
        undefined,
        400,
        "E_BAD_REQUEST",
      ],
      ["POST", "/api/v1/tokens", { name: "t\u0000", role: "reader" }, undefined, 400, "E_BAD_REQUEST"],
      [
        "POST",
        "/api/v1/environments",
        undefined,
        '{"definition":{"name":"sur","description":"\\ud800"}}',
        400,
        "E_DEFINITION_INVALID",
      ],
    ];
    for (const [method, path, body, raw, status, code] of cases) {
      const r = await api(method, path, body, raw);
      expect({ path, status: r.status, code: r.json.code }).toEqual({ path, status, code });
      if (status === 200) {
        expect(r.json.items).toEqual([]);
        continue;
      }
      expect(typeof r.json.message).toBe("string");
      expect(r.json.message.length).toBeLessThan(1200);
      expect(typeof r.json.details).toBe("object");
    }
    const invalid = await api("POST", "/api/v1/environments", { definition: { python: {} } });
    expect(invalid.json.details.issues[0].path).toBe("name");
    const big = await api(
      "POST",
      "/api/v1/environments",
      undefined,
      JSON.stringify({ definition: pipDefinition("big"), pad: "x".repeat(11 * 1024 * 1024) }),
    );
    expect(big).toMatchObject({ status: 413, json: { code: "E_TOO_LARGE" } });
    expect(await api("GET", "/api/v1/environments?archived=true&limit=500")).toEqual(before);
    expect(await api("GET", "/api/v1/tokens")).toEqual(tokensBefore);
    expect(await api("GET", "/api/v1/environments/train/versions")).toEqual(historyBefore);
    expect(await api("GET", "/api/v1/environments/train/labels")).toEqual(labelsBefore);
  });

  it("50 concurrent registers of distinct definitions give versions 1..50", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api("POST", "/api/v1/environments", { definition: pipDefinition("race", [`pkg==1.0.${i}`]) }),
      ),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    const versions = results.map((r) => r.json.environment.version as number).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect((await api("GET", "/api/v1/environments/race/versions")).json.items).toHaveLength(50);
  });

  it("a token of one workspace sees nothing of another", async () => {
    const created = await api("POST", "/api/v1/workspaces", { name: "team-b" });
    expect(created.status).toBe(201);
    expect((await api("POST", "/api/v1/workspaces", { name: "team-b" })).json.code).toBe("E_CONFLICT");
    const b = client(srv.url, created.json.adminToken);
    expect((await b("GET", "/api/v1/whoami")).json.workspace).toBe("team-b");
    // Its own curated seed, none of default's environments.
    expect((await b("GET", "/api/v1/environments")).json.items.map((e: Json) => e.name)).toEqual([
      "mlenv-minimal",
      "mlenv-tutorial",
    ]);
    expect((await b("GET", "/api/v1/environments/train")).status).toBe(404);
    expect((await b("GET", "/api/v1/environments/train/versions/1")).status).toBe(404);
    expect((await b("PUT", "/api/v1/environments/train/labels/x", { version: 1 })).status).toBe(404);
    const tokensA = (await api("GET", "/api/v1/tokens")).json.items as Json[];
    expect((await b("DELETE", `/api/v1/tokens/${tokensA[0]!.id}`)).status).toBe(404);
    expect((await api("GET", "/api/v1/whoami")).status).toBe(200);
    const mine = await b("POST", "/api/v1/environments", {
      definition: pipDefinition("train", ["other==1"]),
    });
    expect(mine.json.environment.version).toBe(1);
    expect((await api("GET", "/api/v1/environments/train")).json.version).toBe(2);
  });

  it("logs writes as structured fields and never logs a token", async () => {
    const created = await api("POST", "/api/v1/tokens", { name: "audit", role: "writer" });
    const writes = srv.logs.filter((l) => l.msg === "request" && l.fields.method === "post");
    expect(writes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          level: "info",
          fields: expect.objectContaining({
            route: "/api/v1/environments",
            status: 201,
            workspace: "default",
          }),
        }),
      ]),
    );
    const text = JSON.stringify(srv.logs);
    expect(text).not.toContain(srv.token);
    expect(text).not.toContain(created.json.token);
  });

  it("stores the canonical definition in the blob store", async () => {
    const env = (await api("GET", "/api/v1/environments/train/versions/1")).json;
    const hex = (env.definitionBlob as string).slice("sha256:".length);
    const text = await readFile(join(srv.dataDir, "blobs", "sha256", hex.slice(0, 2), hex), "utf8");
    expect(JSON.parse(text)).toEqual({ ...env.definition, version: null });
  });
});

describeWithPostgres("two server processes on one PostgreSQL database", (pg) => {
  it("allocate versions consistently and see each other's writes", async () => {
    const url = pg.createDatabase("two_servers");
    const a = await startTestServer(startServer, { database: url });
    const { makeTempDir } = await import("@mlenv/test-utils");
    const dirB = makeTempDir();
    const b = await spawnServer({
      MLENV_DATA_DIR: dirB.path,
      MLENV_DATABASE_URL: url,
      MLENV_BOOTSTRAP_TOKEN: a.token,
    });
    try {
      const ca = client(a.url, a.token);
      const cb = client(b.url, a.token);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          (i % 2 ? ca : cb)("POST", "/api/v1/environments", {
            definition: pipDefinition("shared", [`p==${i}`]),
          }),
        ),
      );
      expect(results.map((r) => r.json.environment.version).sort((x: number, y: number) => x - y)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      await ca("PUT", "/api/v1/environments/shared/labels/prod", { version: 7 });
      expect((await cb("GET", "/api/v1/environments/shared?label=prod")).json.version).toBe(7);
      const tok = await cb("POST", "/api/v1/tokens", { name: "r", role: "reader" });
      expect((await client(a.url, tok.json.token)("GET", "/api/v1/whoami")).json.role).toBe("reader");
      // B has the token cached; A's revocation reaches B through NOTIFY, well before the cache TTL.
      expect((await client(b.url, tok.json.token)("GET", "/api/v1/whoami")).status).toBe(200);
      await ca("DELETE", `/api/v1/tokens/${tok.json.id}`);
      expect((await client(a.url, tok.json.token)("GET", "/api/v1/whoami")).status).toBe(401);
      const t0 = Date.now();
      let status = 200;
      while (status !== 401 && Date.now() - t0 < 2_000) {
        status = (await client(b.url, tok.json.token)("GET", "/api/v1/whoami")).status;
        if (status !== 401) await new Promise((r) => setTimeout(r, 20));
      }
      expect(status).toBe(401);
      expect(Date.now() - t0).toBeLessThan(2_000);
      // Both processes seeded the curated environments once between them.
      expect((await cb("GET", "/api/v1/environments/mlenv-minimal/versions")).json.items).toHaveLength(1);
    } finally {
      await a.stop();
      await b.stop();
      dirB.cleanup();
    }
  });
});

describe("createApp in process", () => {
  it("answers /healthz 503 once the database is gone", async () => {
    const { makeTempDir } = await import("@mlenv/test-utils");
    const { SqliteStore } = await import("./database");
    const { FsBlobStore } = await import("./blobs/blobStore");
    const { createApp } = await import("./app");
    const dir = makeTempDir();
    try {
      const store = new SqliteStore(join(dir.path, "db"));
      await store.migrate();
      const { app } = createApp({ store, blobs: new FsBlobStore(join(dir.path, "blobs")) });
      expect(await (await app.request("/healthz")).json()).toEqual({ status: "ok", store: "sqlite" });
      await store.close();
      const res = await app.request("/healthz");
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ status: "unavailable", store: "sqlite" });
    } finally {
      dir.cleanup();
    }
  });
});

describe("first start", () => {
  it("creates the default workspace and a generated admin token, printed once and written 0600", async () => {
    const { makeTempDir } = await import("@mlenv/test-utils");
    const dir = makeTempDir();
    try {
      const lines: Json[] = [];
      const logger = {
        debug() {},
        info: (msg: string, f: Json = {}) => lines.push({ msg, ...f }),
        warn() {},
        error() {},
      };
      const s1 = await startServer({ dataDir: dir.path, logger });
      const file = join(dir.path, "admin-token");
      const token = (await readFile(file, "utf8")).trim();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(token).toMatch(/^mlenv_[A-Za-z0-9_-]{43}$/);
      expect(lines.filter((l) => l.event === "bootstrap-token").map((l) => l.token)).toEqual([token]);
      expect((await client(s1.url, token)("GET", "/api/v1/whoami")).json).toMatchObject({
        workspace: "default",
        role: "admin",
      });
      await s1.close();
      // A restart keeps the token and prints nothing new.
      const s2 = await startServer({ dataDir: dir.path, logger, bootstrapToken: `mlenv_${"A".repeat(43)}` });
      expect(lines.filter((l) => l.event === "bootstrap-token")).toHaveLength(1);
      expect((await client(s2.url, token)("GET", "/api/v1/whoami")).status).toBe(200);
      expect((await client(s2.url, `mlenv_${"A".repeat(43)}`)("GET", "/api/v1/whoami")).status).toBe(401);
      // Curated environments are not re-versioned on restart.
      expect((await client(s2.url, token)("GET", "/api/v1/environments/mlenv-minimal")).json.version).toBe(1);
      await s2.close();
    } finally {
      dir.cleanup();
    }
  });

  it("uses MLENV_BOOTSTRAP_TOKEN (read by the settings) and refuses a malformed one", async () => {
    const { makeTempDir } = await import("@mlenv/test-utils");
    const dir = makeTempDir();
    const token = `mlenv_${"b".repeat(43)}`;
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    try {
      expect(() =>
        loadServerSettings({ env: { MLENV_DATA_DIR: dir.path, MLENV_BOOTSTRAP_TOKEN: "short" } }),
      ).toThrow(/Expected MLENV_BOOTSTRAP_TOKEN to be mlenv_ \+ 43 base64url.*not shown/);
      await expect(
        startServer({ dataDir: dir.path, bootstrapToken: "short", logger: quiet }),
      ).rejects.toThrow(/bootstrap token/);
      const settings = loadServerSettings({
        env: { MLENV_DATA_DIR: dir.path, MLENV_BOOTSTRAP_TOKEN: token, MLENV_PORT: "0" },
      });
      const s = await startServer({ ...serverOptionsFromSettings(settings), logger: quiet });
      expect((await readFile(join(dir.path, "admin-token"), "utf8")).trim()).toBe(token);
      expect((await client(s.url, token)("GET", "/api/v1/whoami")).status).toBe(200);
      await s.close();
    } finally {
      dir.cleanup();
    }
  });
});
