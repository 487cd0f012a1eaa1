import { join } from "node:path";
import { serve } from "@hono/node-server";
import { makeTempDir, startTestServer } from "@mlenv/test-utils";
import { Hono } from "hono";
import { afterAll, describe, expect, it } from "vitest";
import { type BuildJobOutcome, openBuildJobStore } from "../builds/jobStore";
import { SqliteStore } from "../database";
import { startServer } from "../server";
import { PROMETHEUS_CONTENT_TYPE, ServerMetrics } from "./metrics";

const dir = makeTempDir("mlenv-metrics-");
afterAll(() => dir.cleanup());

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("ServerMetrics over HTTP", () => {
  it("counts requests by route pattern and status, and serves the text format", async () => {
    const metrics = new ServerMetrics();
    const app = new Hono();
    app.use("*", metrics.middleware());
    app.get("/api/v1/environments/:name", (c) => c.json({ name: c.req.param("name") }));
    app.get("/boom", (c) => c.json({ code: "E" }, 500));
    app.get("/metrics", metrics.handler);
    const server = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 });
    await new Promise((r) => server.once("listening", r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      for (const n of ["a", "b", "c"]) await (await fetch(`${url}/api/v1/environments/${n}`)).text();
      await (await fetch(`${url}/boom`)).text();
      await (await fetch(`${url}/nope/${"x".repeat(10)}`)).text();
      const res = await fetch(`${url}/metrics`);
      expect(res.headers.get("content-type")).toBe(PROMETHEUS_CONTENT_TYPE);
      const text = await res.text();
      expect(
        sample(
          text,
          'mlenv_http_requests_total{method="GET",route="/api/v1/environments/:name",status="200"}',
        ),
      ).toBe(3);
      expect(sample(text, 'mlenv_http_requests_total{method="GET",route="/boom",status="500"}')).toBe(1);
      expect(sample(text, 'mlenv_http_requests_total{method="GET",route="unmatched",status="404"}')).toBe(1);
      // Raw paths never become label values (bounded cardinality).
      expect(text).not.toContain("/environments/a");
      expect(
        sample(
          text,
          'mlenv_http_request_duration_seconds_count{method="GET",route="/api/v1/environments/:name"}',
        ),
      ).toBe(3);
      expect(
        sample(
          text,
          'mlenv_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/api/v1/environments/:name"}',
        ),
      ).toBe(3);
      expect(text).toContain("# TYPE mlenv_http_requests_total counter");
      // No build store given: no build families.
      expect(text).not.toContain("mlenv_build_queue_depth");
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe("build metrics from a real job store", () => {
  it("reports queue depth, running builds, durations and the cache-hit ratio", async () => {
    const file = join(dir.path, "mlenv.db");
    const store = new SqliteStore(file);
    await store.migrate();
    await store.close();
    const jobs = openBuildJobStore({ sqliteFile: file });
    const metrics = new ServerMetrics();
    metrics.setBuildJobs(jobs);
    try {
      expect(await metrics.render()).toContain("mlenv_build_cache_hit_ratio NaN");
      const outcome = (cacheHit: boolean, durationMs: number): BuildJobOutcome => ({
        image: "mlenv/env_x",
        imageId: null,
        digest: null,
        cacheHit,
        source: cacheHit ? "local" : "built",
        steps: [],
        dockerfile: null,
        durationMs,
      });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { job } = await jobs.enqueue({
          workspaceId: "w",
          imageKey: `k${i}`,
          image: `img${i}`,
          request: {},
        });
        ids.push(job.id);
      }
      // Three claimed: two finish (one cache hit of 0.2 s, one build of 90 s), one keeps running.
      for (let i = 0; i < 3; i++) await jobs.claimNext();
      const claimed = (await jobs.list({ status: ["running"] })).map((j) => j.id);
      expect(claimed).toHaveLength(3);
      await jobs.finish(claimed[0]!, "succeeded", { outcome: outcome(true, 200) });
      await jobs.finish(claimed[1]!, "succeeded", { outcome: outcome(false, 90_000) });
      const text = await metrics.render();
      expect(sample(text, "mlenv_build_queue_depth")).toBe(2);
      expect(sample(text, "mlenv_builds_running")).toBe(1);
      expect(sample(text, 'mlenv_builds_finished{status="succeeded"}')).toBe(2);
      expect(sample(text, "mlenv_build_cache_hit_ratio")).toBe(0.5);
      expect(sample(text, 'mlenv_build_duration_seconds_bucket{cache_hit="true",le="1"}')).toBe(1);
      expect(sample(text, 'mlenv_build_duration_seconds_bucket{cache_hit="false",le="60"}')).toBe(0);
      expect(sample(text, 'mlenv_build_duration_seconds_bucket{cache_hit="false",le="120"}')).toBe(1);
      expect(sample(text, 'mlenv_build_duration_seconds_sum{cache_hit="false"}')).toBe(90);
    } finally {
      await jobs.close();
    }
  });
});

describe("GET /metrics on the real server", () => {
  it("counts the server's own requests by route pattern", async () => {
    const srv = await startTestServer(startServer);
    try {
      expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
      const auth = { authorization: `Bearer ${srv.token}` };
      expect(
        (await fetch(`${srv.url}/api/v1/environments/nope-${Date.now()}`, { headers: auth })).status,
      ).toBe(404);
      const text = await (await fetch(`${srv.url}/metrics`)).text();
      expect(sample(text, 'mlenv_http_requests_total{method="GET",route="/healthz",status="200"}')).toBe(1);
      expect(text).toMatch(
        /mlenv_http_requests_total\{method="GET",route="\/api\/v1\/environments\/:name",status="404"\} 1/,
      );
      const doc = (await (await fetch(`${srv.url}/openapi.json`)).json()) as {
        paths: Record<string, unknown>;
      };
      expect(doc.paths["/metrics"]).toBeDefined();
      // The server's build queue is wired in: its gauges are reported (no builds yet).
      expect(sample(text, "mlenv_build_queue_depth")).toBe(0);
      expect(text).toContain("mlenv_build_cache_hit_ratio NaN");
    } finally {
      await srv.stop();
    }
  });
});
