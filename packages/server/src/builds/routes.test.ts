import { join } from "node:path";
import { serve } from "@hono/node-server";
import { baseImageCpu, dockerAvailable, makeTempDir, skipWithout, uniqueTag } from "@mlenv/test-utils";
import { Hono } from "hono";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provideTokenLookup } from "../auth";
import { FsBlobStore } from "../blobs/blobStore";
import { SqliteStore } from "../database";
import { DockerClient } from "../docker/index";
import { Registry } from "../environments/registry";
import { errorHandler } from "../http/errors";
import { ImageBuilder } from "./builder";
import { BuildQueue } from "./buildQueue";
import { openBuildJobStore } from "./jobStore";
import { buildRoutes } from "./routes";

const reason = await dockerAvailable();
const run = uniqueTag();

describe.skipIf(skipWithout("docker", reason))("build routes over real HTTP", () => {
  const dir = makeTempDir();
  const docker = new DockerClient();
  let store: SqliteStore;
  let queue: BuildQueue;
  let close: () => Promise<void>;
  let url: string;
  let writer: string;
  let reader: string;
  let outsider: string;
  const images = new Set<string>();

  beforeAll(async () => {
    const file = join(dir.path, "mlenv.db");
    store = new SqliteStore(file);
    await store.migrate();
    const registry = new Registry({ store, blobs: new FsBlobStore(join(dir.path, "blobs")) });
    const a = await registry.createWorkspace("team-a");
    const b = await registry.createWorkspace("team-b");
    writer = (await registry.createToken(a.workspace.id, "w", "writer")).token;
    reader = (await registry.createToken(a.workspace.id, "r", "reader")).token;
    outsider = b.adminToken;
    // user-managed: core's Dockerfile builds on the local base image (which has no conda)
    await registry.register(
      a.workspace.id,
      {
        name: "app",
        docker: { baseImage: baseImageCpu() },
        python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
        spark: { repositories: [`https://example.invalid/${run}`] },
      },
      "test",
    );
    const builder = new ImageBuilder({ docker });
    const jobs = openBuildJobStore({ sqliteFile: file });
    queue = new BuildQueue({ jobs, builder, pollMs: 100, heartbeatMs: 200 });
    await queue.start();
    const server = serve({
      // mounted as createApp mounts it: behind the registry's token lookup
      fetch: new Hono()
        .use(
          "*",
          provideTokenLookup((token) => registry.authenticate(token)),
        )
        .route("/", buildRoutes({ store, queue, builder }))
        .onError(errorHandler(undefined)).fetch,
      port: 0,
      hostname: "127.0.0.1",
    });
    await new Promise<void>((r) => server.once("listening", () => r()));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    close = async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await queue.close();
      await jobs.close();
    };
  });
  afterAll(async () => {
    await close?.();
    for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
    await store?.close();
    dir.cleanup();
  });

  const call = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });

  it("builds a registered environment, streams its log, and shows the image", async () => {
    const before = await (await call(reader, "GET", "/api/v1/environments/app/image")).json();
    expect(before).toMatchObject({ name: "app", version: 1, exists: false, local: false, registry: null });
    expect(before.dockerfile).toContain(`FROM ${baseImageCpu()}`);

    expect((await call(reader, "POST", "/api/v1/environments/app/builds", {})).status).toBe(403);
    const [r1, r2] = await Promise.all([
      call(writer, "POST", "/api/v1/environments/app/builds", { version: 1 }),
      call(writer, "POST", "/api/v1/environments/app/builds", {}),
    ]);
    expect([r1.status, r2.status]).toEqual([202, 202]);
    const [b1, b2] = [await r1.json(), await r2.json()];
    expect(b1.job.id).toBe(b2.job.id);
    expect([b1.coalesced, b2.coalesced].sort()).toEqual([false, true]);
    expect(b1.job.context).toEqual({ environment: "app", version: 1 });

    const sse = await call(reader, "GET", `/api/v1/builds/${b1.job.id}/logs`);
    expect(sse.headers.get("content-type")).toContain("text/event-stream");
    const text = await sse.text();
    expect(text).toMatch(/event: log\ndata: .*Step 1\/\d+ : FROM/);
    const end = text.slice(text.lastIndexOf("event: end"));
    const job = JSON.parse(end.slice(end.indexOf("data: ") + 6).trim());
    expect(job.status).toBe("succeeded");
    expect(job.request).toBeUndefined();
    images.add(job.outcome.image);

    const got = await (await call(reader, "GET", `/api/v1/builds/${b1.job.id}`)).json();
    expect(got).toMatchObject({ status: "succeeded", outcome: { source: "built", cacheHit: false } });
    const jsonLogs = await (
      await call(reader, "GET", `/api/v1/builds/${b1.job.id}/logs?format=json&after=1`)
    ).json();
    expect(jsonLogs.items[0].seq).toBe(2);

    const after = await (await call(reader, "GET", "/api/v1/environments/app/image?version=1")).json();
    expect(after).toMatchObject({
      exists: true,
      local: true,
      image: job.outcome.image,
      imageKey: job.imageKey,
    });
  }, 180_000);

  it("hides other workspaces' builds and refuses bad input with the server's error shape", async () => {
    const { job } = await (await call(writer, "POST", "/api/v1/environments/app/builds", {})).json();
    await queue.wait(job.id);
    const other = await call(outsider, "GET", `/api/v1/builds/${job.id}`);
    expect(other.status).toBe(404);
    expect((await other.json()).code).toBe("E_NOT_FOUND");
    expect((await call(outsider, "POST", "/api/v1/environments/app/builds", {})).status).toBe(404);
    const bad = await call(writer, "POST", "/api/v1/environments/app/builds", { version: "x; rm -rf /" });
    expect(bad.status).toBe(400);
    expect((await bad.json()).code).toBe("E_BAD_REQUEST");
    expect((await fetch(`${url}/api/v1/builds/${job.id}`)).status).toBe(401);
    expect((await call(writer, "POST", "/api/v1/builds/nope/cancel")).status).toBe(404);
    const cancelled = await (await call(writer, "POST", `/api/v1/builds/${job.id}/cancel`)).json();
    expect(cancelled.status).toBe("succeeded"); // already final: cancel changes nothing
  }, 120_000);
});
