import { request } from "node:http";
import { featureRoutes } from "@mlenv/api";
import { startTestServer, type TestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "./server";

const MAX = 10 * 1024 * 1024;

/**
 * Send `size` bytes to `path` over real HTTP and resolve with the status as soon as the answer
 * arrives (the server may answer, and close, before the body is through). `chunked` sends no
 * Content-Length, so the limit must count the bytes as they come.
 */
function send(
  url: string,
  token: string,
  method: string,
  path: string,
  size: number,
  chunked = false,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          ...(chunked ? { "transfer-encoding": "chunked" } : { "content-length": String(size) }),
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", (e) => {
      // a reset after the answer is fine; one before it is a failure
      reject(e);
    });
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        const n = Math.min(chunk.length, size - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
          req.once("drain", pump);
          return;
        }
      }
      req.end();
    };
    pump();
  });
}

/** Routes whose router applies a larger limit of its own (declared with `ownBodyLimit`). */
const OWN_LIMIT = new Set(
  Object.values(featureRoutes)
    .flat()
    .filter((r) => r.ownBodyLimit !== undefined)
    .map((r) => `${r.method.toUpperCase()} ${r.path}`),
);

/** Routes not (yet) in /openapi.json: the image build routes (src/builds/routes.ts). */
const UNDOCUMENTED = [
  ["POST", "/api/v1/environments/{name}/builds"],
  ["POST", "/api/v1/builds/{id}/cancel"],
] as const;

describe("every route with a body refuses one past the limit (413)", () => {
  let srv: TestServer;
  let routes: [string, string][];
  beforeAll(async () => {
    srv = await startTestServer(startServer);
    const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    routes = UNDOCUMENTED.map(([m, p]) => [m, p]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        if (["post", "put", "patch", "delete"].includes(method)) routes.push([method.toUpperCase(), path]);
      }
    }
  });
  afterAll(async () => {
    await srv?.stop();
  });

  const concrete = (path: string) =>
    path
      .replace("{filename}", "pkg-1.0-py3-none-any.whl")
      .replace("{id}", "00000000-0000-0000-0000-000000000000")
      .replace(/\{[^}]+\}/g, "x");

  it("knows the routes with a limit of their own from their declarations", () => {
    expect([...OWN_LIMIT].sort()).toEqual([
      "POST /api/v1/datastores/{name}/versions",
      "POST /api/v1/models",
      "POST /api/v1/snapshots",
      "PUT /upload/v1/wheels/{filename}",
    ]);
  });

  it("walks the sub-routers' routes (runs, services, builds, wheels, secrets) as well as the registry's", () => {
    const keys = routes.map(([m, p]) => `${m} ${p}`);
    expect(keys).toEqual(
      expect.arrayContaining([
        "POST /api/v1/runs",
        "POST /api/v1/services",
        "POST /api/v1/wheels/resolve",
        "POST /api/v1/wheels/render",
        "POST /api/v1/wheels/{filename}/yank",
        "PUT /api/v1/secrets/{name}",
        "POST /api/v1/environments/{name}/builds",
        "POST /api/v1/environments",
      ]),
    );
    expect(keys.length).toBeGreaterThan(20);
  });

  it("answers 413 with a declared Content-Length one byte past 10 MiB", async () => {
    const got: string[] = [];
    for (const [method, path] of routes) {
      if (OWN_LIMIT.has(`${method} ${path}`)) continue;
      const status = await send(srv.url, srv.token, method, concrete(path), MAX + 1);
      if (status !== 413) got.push(`${method} ${path} -> ${status}`);
    }
    expect(got).toEqual([]);
  });

  it("answers 413 to a chunked body (no Content-Length) once it passes 10 MiB", async () => {
    const got: string[] = [];
    for (const [method, path] of [
      ["POST", "/api/v1/runs"],
      ["PUT", "/api/v1/secrets/TOKEN"],
      ["POST", "/api/v1/wheels/render"],
      ["POST", "/api/v1/environments"],
    ] as const) {
      const status = await send(srv.url, srv.token, method, path, MAX + 64 * 1024, true);
      if (status !== 413) got.push(`${method} ${path} -> ${status}`);
    }
    expect(got).toEqual([]);
  });
});
