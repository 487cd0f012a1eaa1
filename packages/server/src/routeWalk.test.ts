import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { featureRoutes } from "@mlenv/api";
import { canonicalJson, type JsonValue } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import type { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient } from "../test/helpers";
import { createApp } from "./app";
import { FsBlobStore } from "./blobs/blobStore";
import { openBuildSupport } from "./builds/buildSupport";
import { silentLogger } from "./logger";
import { openRunSupport } from "./runs/support";
import { openStore, type RunningServer, startServer } from "./server";
import type { Store } from "./store/types";
import { openWheelSupport } from "./wheels/support";

/** core's vectors: definitions no registry may accept. */
const vectors = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve("@mlenv/core/invalid-definitions.json"), "utf8"),
) as { definitions: { name: string; input: Record<string, unknown>; codes: string[] }[] };

/** A definition core accepts but this (conda-less) server cannot render: a conda package. */
const UNRENDERABLE = {
  name: "walk-conda-packages",
  python: { condaDependencies: { dependencies: ["python=3.11", "numpy=1.26.4", { pip: [] }] } },
};

/** Build settings naming a Docker engine that is not there (no route needs one to answer). */
const noEngineBuilds = (dataDir: string) => ({
  dockerHost: `unix://${join(dataDir, "no-engine.sock")}`,
  baseImageCpu: "local/base-cpu:walk",
  condaExecutable: null,
  pollMs: 50,
});

/**
 * Issue 15 item 7: no route answers 500 for a user's bad definition. Every route of /openapi.json
 * is walked with core's invalid definitions: as request bodies (refused with 4xx), and as stored
 * versions (rows written before the registry validated, read back by every route naming them).
 */
describe("every route with core's invalid definitions", () => {
  const dir = makeTempDir("mlenv-route-walk-");
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  let srv: RunningServer;
  let api: ReturnType<typeof apiClient>;
  const stored: string[] = [];

  beforeAll(async () => {
    srv = await startServer({
      dataDir: dir.path,
      bootstrapToken: admin,
      logger: silentLogger,
      builds: noEngineBuilds(dir.path),
    });
    api = apiClient(srv.url, admin);
    // invalid definitions stored as an older server (without validation) would have stored them
    const store = await openStore({ dataDir: dir.path });
    try {
      const ws = (await store.getWorkspace("default"))!;
      for (const [i, v] of vectors.definitions.entries()) {
        const name = `stored-invalid-${i}`;
        const text = canonicalJson({ ...v.input, name } as JsonValue);
        await store.register({
          workspaceId: ws.id,
          name,
          definitionHash: `mlenv1-sha256:${i.toString(16).padStart(64, "0")}`,
          definitionJson: text,
          definitionBlob: `sha256:${i.toString(16).padStart(64, "0")}`,
          description: null,
          tags: {},
          curated: false,
          createdBy: "older-server",
          now: new Date().toISOString(),
          lockJson: null,
          imageKey: `mlenv1-sha256:${(i + 100).toString(16).padStart(64, "0")}`,
        });
        stored.push(name);
      }
    } finally {
      await store.close();
    }
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  it("the registry refuses each one on register, with the issue", async () => {
    for (const v of vectors.definitions) {
      const r = await api("POST", "/api/v1/environments", { definition: v.input });
      expect(r.status, `${v.name}: ${JSON.stringify(r.json)}`).toBe(400);
      expect(["E_DEFINITION_INVALID", "E_NAME_INVALID"]).toContain(r.json.code);
    }
    const list = await api("GET", "/api/v1/environments?prefix=inv-");
    expect(list.json.items).toEqual([]);
  });

  it("the image route and the build route answer the render error for a definition this server cannot build", async () => {
    const reg = await api("POST", "/api/v1/environments", { definition: UNRENDERABLE });
    expect(reg.status).toBe(201);
    const image = await api("GET", `/api/v1/environments/${UNRENDERABLE.name}/image`);
    expect(image.status).toBe(400);
    expect(image.json).toMatchObject({
      code: "E_DEFINITION_INVALID",
      details: { reason: "E_RENDER_REFUSED" },
    });
    expect(image.json.message).toContain("numpy=1.26.4");
    const build = await api("POST", `/api/v1/environments/${UNRENDERABLE.name}/builds`, {});
    expect(build.status).toBe(400);
    expect(build.json.code).toBe("E_DEFINITION_INVALID");
  });

  it("no route answers 500", async () => {
    const doc = (await api("GET", "/openapi.json")).json as {
      paths: Record<string, Record<string, { requestBody?: unknown }>>;
    };
    const snap = await api("POST", "/api/v1/snapshots", {
      files: [{ path: "s.py", content: Buffer.from("def init():\n    pass\n").toString("base64") }],
    });
    const model = await api("POST", "/api/v1/models", {
      name: "walk-model",
      files: [{ path: "m.json", content: Buffer.from("{}").toString("base64") }],
    });
    const names = [...stored, UNRENDERABLE.name];
    const seen: string[] = [];
    const fivehundreds: string[] = [];
    const dropped: string[] = [];
    for (const [template, ops] of Object.entries(doc.paths)) {
      if (!template.startsWith("/api/")) continue;
      for (const [method, op] of Object.entries(ops)) {
        for (const [i, name] of names.entries()) {
          const input = vectors.definitions[i]?.input ?? UNRENDERABLE;
          const path = template
            .replace("{name}", encodeURIComponent(name))
            .replace("{version}", "1")
            .replace("{label}", "prod")
            .replace("{id}", "00000000-0000-0000-0000-000000000000")
            .replace("{filename}", "x-1.0-py3-none-any.whl");
          const bodies: unknown[] = op.requestBody
            ? [
                { definition: input },
                { definition: input, lock: null },
                {
                  experiment: "walk",
                  script: "s.py",
                  snapshot: snap.json.id,
                  target: "docker",
                  environment: { definition: input },
                },
                {
                  experiment: "walk",
                  script: "s.py",
                  snapshot: snap.json.id,
                  target: "docker",
                  environment: { name, version: 1 },
                },
                {
                  name: `walk-svc-${i}`,
                  model: { name: model.json.model.name, version: model.json.model.version },
                  entryScript: "s.py",
                  snapshot: snap.json.id,
                  target: "docker",
                  environment: { name },
                },
                { newName: `walk-clone-${i}`, version: 1 },
                { version: 1 },
                {},
              ]
            : [undefined];
          const queries = path.endsWith("/diff") ? ["?from=1&to=1", "?from=1&to=2"] : [""];
          for (const body of bodies) {
            for (const q of queries) {
              const send = () =>
                api(method.toUpperCase(), `${path}${q}`, body).catch((e: unknown) => ({
                  status: 599,
                  json: `no answer: ${String((e as Error).cause ?? e)}`,
                }));
              // every route reads its body before answering: no connection is dropped under one
              const r = await send();
              if (r.status === 599) {
                dropped.push(`${method.toUpperCase()} ${template}`);
                continue;
              }
              seen.push(`${method} ${template}`);
              // 503 E_DOCKER_UNREACHABLE: a valid definition and no engine here, not a bad definition
              const noEngine =
                r.status === 503 && (r.json as { code?: string })?.code === "E_DOCKER_UNREACHABLE";
              if (r.status >= 500 && !noEngine)
                fivehundreds.push(
                  `${method.toUpperCase()} ${path}${q} → ${r.status} ${JSON.stringify(r.json).slice(0, 300)}`,
                );
            }
          }
        }
      }
    }
    expect(fivehundreds).toEqual([]);
    expect(dropped).toEqual([]);
    // the walk reached the routes that read a stored definition
    for (const route of [
      "get /api/v1/environments/{name}",
      "get /api/v1/environments/{name}/image",
      "post /api/v1/environments/{name}/builds",
      "get /api/v1/environments/{name}/diff",
      "post /api/v1/environments/{name}/clone",
      "post /api/v1/runs",
      "post /api/v1/services",
    ]) {
      expect(seen).toContain(route);
    }
  }, 300_000);
});

/**
 * The contract and the server agree: every route the app mounts is declared in @mlenv/api (and so
 * documented in /openapi.json), and every documented route answers (neither 404 nor 405).
 */
describe("mounted routes and the contract", () => {
  const dir = makeTempDir("mlenv-route-contract-");
  let store: Store;
  let app: Hono;
  let served: { paths: Record<string, Record<string, unknown>> };
  let close: () => Promise<void>;

  beforeAll(async () => {
    store = await openStore({ dataDir: dir.path });
    const blobs = new FsBlobStore(join(dir.path, "blobs"));
    const wheels = openWheelSupport({ dataDir: dir.path });
    const builds = openBuildSupport({
      dataDir: dir.path,
      store,
      wheels,
      logger: silentLogger,
      builds: noEngineBuilds(dir.path),
    });
    const runs = openRunSupport({
      dataDir: dir.path,
      store,
      blobs,
      logger: silentLogger,
      wheels,
      localTarget: "off",
    });
    ({ app } = createApp({ store, blobs, logger: silentLogger, wheels, runs, builds }));
    served = (await (await app.request("/openapi.json")).json()) as typeof served;
    close = async () => {
      await runs.close();
      await builds.close();
      await wheels.close?.();
      await store.close();
    };
  }, 60_000);
  afterAll(async () => {
    await close?.();
    dir.cleanup();
  });

  /** `GET /api/v1/environments/{name}` for a Hono route `/api/v1/environments/:name`. */
  const key = (method: string, path: string) =>
    `${method.toLowerCase()} ${path.replace(/:([^/]+)/g, "{$1}")}`;
  /** The web UI's own pages and assets, served beside the API (not JSON routes). */
  const UI = new Set(["get /", "get /ui/app.css", "get /ui/app.js"]);

  it("every mounted route is declared, and /openapi.json is every declaration", () => {
    const declared = Object.values(featureRoutes)
      .flat()
      .map((r) => key(r.method, r.path));
    const mounted = [
      ...new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => key(r.method, r.path))),
    ].filter((k) => !UI.has(k));
    expect(mounted.filter((k) => !declared.includes(k))).toEqual([]);
    const documented = Object.entries(served.paths).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m} ${p}`),
    );
    expect(documented.sort()).toEqual([...declared].sort());
  });

  it("every documented route answers (not 404 or 405)", async () => {
    const wrong: string[] = [];
    for (const [template, ops] of Object.entries(served.paths)) {
      for (const method of Object.keys(ops)) {
        const path = template.replace(/\{[^}]+\}/g, "x");
        const res = await app.request(path, { method: method.toUpperCase() });
        const text = await res.text();
        // a 404 the route itself answers names what is missing; the router's says "No route"
        if (res.status === 405 || (res.status === 404 && text.includes('"message":"No route ')))
          wrong.push(`${method.toUpperCase()} ${template} → ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});
