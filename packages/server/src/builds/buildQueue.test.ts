import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { serve } from "@hono/node-server";
import { type EnvironmentDefinition, parseDefinition, pipEntries } from "@mlenv/core";
import { baseImageCpu, dockerAvailable, skipWithout, uniqueTag } from "@mlenv/test-utils";
import { useImageCleanup, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CountingDocker } from "../../test/countingDocker";
import { serveMainCommand } from "../../test/helpers";
import { SqliteStore } from "../database";
import { coreRenderer, ImageBuilder, type RenderBuildContext } from "./builder";
import { type BuildEvent, BuildQueue } from "./buildQueue";
import { type BuildJobStore, openBuildJobStore } from "./jobStore";
import { buildEventResponse } from "./sse";

const reason = await dockerAvailable();
const enc = (s: string) => new TextEncoder().encode(s);
const run = uniqueTag();

/**
 * Jobs are described by one pip entry `job-<name>==<seconds>`: the rendered image prints a few
 * lines and sleeps that long (no index needed), so tests control how long a build runs.
 */
const render: RenderBuildContext = (def) => {
  const [entry = "job-x==0"] = pipEntries(def.python.condaDependencies ?? { dependencies: [] });
  const [name, seconds] = entry.split("==") as [string, string];
  return {
    Dockerfile: enc(
      [
        `FROM ${def.docker.baseImage}`,
        `ENV MLENV_JOB=${name}`,
        `RUN echo "begin ${name}" && sleep ${Number(seconds)} && echo "end ${name}"`,
        "",
      ].join("\n"),
    ),
  };
};

const job = (name: string, seconds: number): EnvironmentDefinition =>
  parseDefinition({
    name: "queue-test",
    docker: { baseImage: baseImageCpu() },
    python: {
      condaDependencies: { dependencies: ["python=3.11", { pip: [`job-${name}-${run}==${seconds}`] }] },
    },
  });

describe.skipIf(skipWithout("docker", reason))("BuildQueue on a real engine", () => {
  const dir = useTempDir();
  const file = join(dir.path, "mlenv.db");
  const docker = new CountingDocker();
  const builder = new ImageBuilder({ docker, render });
  const images = useImageCleanup(docker, { pruneDangling: true });
  let store: SqliteStore;
  let jobs: BuildJobStore;

  const queue = (options: Partial<ConstructorParameters<typeof BuildQueue>[0]> = {}) =>
    new BuildQueue({ jobs, builder, pollMs: 100, heartbeatMs: 100, ...options });
  /** Run `body` with a started queue (see queue); the queue is closed after it. */
  const withQueue = async (
    options: Parameters<typeof queue>[0],
    body: (q: BuildQueue) => Promise<void>,
  ): Promise<void> => {
    const q = queue(options);
    await q.start();
    try {
      await body(q);
    } finally {
      await q.close();
    }
  };

  beforeAll(async () => {
    store = new SqliteStore(file);
    await store.migrate();
    jobs = openBuildJobStore({ sqliteFile: file });
  });
  afterAll(async () => {
    await jobs?.close();
    await store?.close();
  });

  it("coalesces concurrent requests for one key into one build, streams the log and records the result", async () => {
    await withQueue({}, async (q) => {
      const before = docker.builds;
      const def = job("same", 1);
      const [a, b] = await Promise.all([q.submit({ definition: def }), q.submit({ definition: def })]);
      expect(a.job.id).toBe(b.job.id);
      expect([a.coalesced, b.coalesced].sort()).toEqual([false, true]);
      const events: BuildEvent[] = [];
      for await (const e of q.follow(a.job.id)) events.push(e);
      const end = events.at(-1);
      expect(end?.type).toBe("end");
      const done = end?.type === "end" ? end.job : null;
      expect(done?.status).toBe("succeeded");
      expect(done?.outcome).toMatchObject({ cacheHit: false, source: "built", image: a.job.image });
      images.add(a.job.image);
      expect(docker.builds - before).toBe(1);
      const texts = events.flatMap((e) => (e.type === "log" ? [e.line.text] : []));
      expect(texts).toContain(`begin job-same-${run}`);
      expect(texts).toContain(`end job-same-${run}`);
      const seqs = events.flatMap((e) => (e.type === "log" ? [e.line.seq] : []));
      expect(seqs).toEqual(seqs.map((_, i) => i + 1));

      // a later request is a new job that hits the cache: no engine build
      const again = await q.submit({ definition: def });
      expect(again.coalesced).toBe(false);
      expect((await q.wait(again.job.id)).outcome).toMatchObject({ cacheHit: true, source: "local" });
      expect(docker.builds - before).toBe(1);
    });
  }, 120_000);

  it("runs at most `concurrency` builds at once", async () => {
    await withQueue({ concurrency: 1 }, async (q) => {
      const submitted = await Promise.all(["c1", "c2", "c3"].map((n) => q.submit({ definition: job(n, 1) })));
      let maxRunning = 0;
      const watch = setInterval(async () => {
        const running = await jobs.list({ status: ["running"] });
        maxRunning = Math.max(maxRunning, running.length);
      }, 50);
      const finals = await Promise.all(submitted.map((s) => q.wait(s.job.id)));
      clearInterval(watch);
      for (const f of finals) images.add(f.image);
      expect(finals.map((f) => f.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
      expect(maxRunning).toBe(1);
      // started one after another
      const spans = finals.map(
        (f) => [Date.parse(f.startedAt ?? ""), Date.parse(f.finishedAt ?? "")] as const,
      );
      spans.sort((x, y) => x[0] - y[0]);
      for (let i = 1; i < spans.length; i++)
        expect(spans[i]?.[0]).toBeGreaterThanOrEqual(spans[i - 1]?.[1] ?? 0);
    });
  }, 180_000);

  it("cancels a running build, and fails one that outlives its timeout with its log kept", async () => {
    await withQueue({ timeoutMs: 8000 }, async (q) => {
      const { job: running } = await q.submit({ definition: job("cancel", 60) });
      for await (const e of q.follow(running.id))
        if (e.type === "log" && e.line.text.startsWith("begin")) break;
      const t0 = Date.now();
      const cancelled = await q.cancel(running.id);
      expect(cancelled.status).toBe("canceled");
      expect(cancelled.error?.code).toBe("E_BUILD_CANCELLED");
      expect(Date.now() - t0).toBeLessThan(20_000);

      const { job: slow } = await q.submit({ definition: job("timeout", 60) });
      const failed = await q.wait(slow.id);
      expect(failed.status).toBe("failed");
      expect(failed.error?.code).toBe("E_BUILD_TIMEOUT");
      const log = (await jobs.logs(slow.id)).map((l) => l.text);
      expect(log).toContain(`begin job-timeout-${run}`);
      expect(log.at(-1)).toMatch(/^failed: the build ran longer/);
    });
  }, 120_000);

  it("after a crash mid-build, a restarted queue fails the interrupted build and runs the queued one", async () => {
    const first = queue({ concurrency: 1 });
    await first.start();
    const { job: interrupted } = await first.submit({ definition: job("crash", 60) });
    const { job: waiting } = await first.submit({ definition: job("after-crash", 0) });
    for await (const e of first.follow(interrupted.id))
      if (e.type === "log" && e.line.text.startsWith("begin")) break;
    expect((await jobs.get(waiting.id))?.status).toBe("queued");
    // a crash: the process stops without recording anything
    await first.close({ abandon: true });
    expect((await jobs.get(interrupted.id))?.status).toBe("running");

    const second = queue({ concurrency: 1 });
    await second.start();
    try {
      expect(await jobs.get(interrupted.id)).toMatchObject({
        status: "failed",
        error: { code: "E_BUILD_INTERRUPTED" },
      });
      const done = await second.wait(waiting.id);
      images.add(done.image);
      expect(done.status).toBe("succeeded");
    } finally {
      await second.close();
    }
  }, 120_000);

  it("streams a job's log as server-sent events over HTTP, resuming after Last-Event-ID", async () => {
    const q = queue();
    await q.start();
    const server = serve({
      fetch: (req) => buildEventResponse(q, new URL(req.url).pathname.slice(1), req),
      port: 0,
      hostname: "127.0.0.1",
    });
    await new Promise<void>((r) => server.once("listening", () => r()));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const { job: j } = await q.submit({ definition: job("sse", 1) });
      const res = await fetch(`${url}/${j.id}`);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const text = await res.text();
      const events = text.split("\n\n").filter((e) => e.trim() !== "");
      const logs = events.filter((e) => e.includes("event: log"));
      expect(logs.some((e) => e.includes(`begin job-sse-${run}`))).toBe(true);
      expect(logs[0]).toMatch(/^id: 1\n/);
      const end = events.at(-1) ?? "";
      expect(end).toMatch(/^event: end\ndata: /);
      const final = JSON.parse(end.slice(end.indexOf("data: ") + 6)) as { status: string; image: string };
      expect(final.status).toBe("succeeded");
      images.add(final.image);

      const resumed = await (await fetch(`${url}/${j.id}`, { headers: { "last-event-id": "2" } })).text();
      expect(resumed).toMatch(/^id: 3\n/);
      expect(resumed).not.toMatch(/^id: [12]\n/m);

      const missing = await fetch(`${url}/no-such-job`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { code: string }).code).toBe("E_BUILD_NOT_FOUND");
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await q.close();
    }
  }, 120_000);

  it("a worker process killed (SIGKILL) mid-build: its build is failed as interrupted, by heartbeat and on restart", async () => {
    const slow = (tag: string) =>
      parseDefinition({
        name: "crash",
        docker: { baseDockerfile: `FROM ${baseImageCpu()}\nRUN echo begin-${tag}-${run} && sleep 60\n` },
        python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      });
    const workers: ReturnType<typeof spawn>[] = [];
    const startWorker = async () => {
      const [node, ...args] = serveMainCommand("worker");
      const child = spawn(node, args, {
        stdio: ["ignore", "pipe", "pipe"],
        // the settings `mlenv server worker` reads: the data dir holds the queue's SQLite file
        env: {
          ...process.env,
          MLENV_DATA_DIR: dirname(file),
          MLENV_BUILD_HEARTBEAT_MS: "200",
          MLENV_BUILD_STALE_MS: "60000",
        },
      });
      let out = "";
      child.stderr?.on("data", (c: Buffer) => {
        out += c.toString();
      });
      workers.push(child);
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on("data", (c: Buffer) => {
          if (c.toString().includes('"ready"')) resolve();
        });
        child.once("exit", (code) => reject(new Error(`worker exited with ${code}: ${out}`)));
      });
      return child;
    };
    const waitForLine = async (id: string, prefix: string) => {
      const submitter = queue();
      for await (const e of submitter.follow(id))
        if (e.type === "log" && e.line.text.startsWith(prefix)) return;
      throw new Error(`job ${id} ended before printing ${prefix}: ${JSON.stringify(await jobs.get(id))}`);
    };
    // a queue that only submits (not started): the worker process claims the jobs
    const submitter = queue();

    try {
      // 1. the dead worker is noticed by a live queue through its stale heartbeat
      const worker = await startWorker();
      const { job: first } = await submitter.submit({ definition: slow("a") });
      await waitForLine(first.id, `begin-a-${run}`);
      expect((await jobs.get(first.id))?.status).toBe("running");
      worker.kill("SIGKILL");
      const watcher = queue({ exclusive: false, staleMs: 1500 });
      await watcher.start();
      try {
        const failed = await watcher.wait(first.id);
        expect(failed.status).toBe("failed");
        expect(failed.error?.code).toBe("E_BUILD_INTERRUPTED");
        expect((await jobs.logs(first.id)).some((l) => l.text === `begin-a-${run}`)).toBe(true);
      } finally {
        await watcher.close();
      }

      // 2. an exclusive server restarting fails the dead worker's build at once
      const worker2 = await startWorker();
      const { job: second } = await submitter.submit({ definition: slow("b") });
      await waitForLine(second.id, `begin-b-${run}`);
      worker2.kill("SIGKILL");
      const restarted = queue({ staleMs: 600_000 });
      const t0 = Date.now();
      await restarted.start();
      try {
        expect(await jobs.get(second.id)).toMatchObject({
          status: "failed",
          error: { code: "E_BUILD_INTERRUPTED" },
        });
        expect(Date.now() - t0).toBeLessThan(5000);
      } finally {
        await restarted.close();
      }
    } finally {
      for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
    }
  }, 180_000);

  it("caps a job's stored log, keeps the final status line, and passes rebuild through", async () => {
    const q = new BuildQueue({
      jobs,
      builder: new ImageBuilder({ docker, render: coreRenderer() }),
      maxLogBytes: 4000,
      pollMs: 100,
    });
    await q.start();
    try {
      const noisy = parseDefinition({
        name: "noisy",
        docker: { baseDockerfile: `FROM ${baseImageCpu()}\nRUN echo noisy-${run} && seq 1 5000\n` },
        python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      });
      const first = await q.wait((await q.submit({ definition: noisy })).job.id);
      expect(first.status).toBe("succeeded");
      images.add(first.image);
      const log = await jobs.logs(first.id);
      const bytes = log.reduce((n, l) => n + l.text.length + 1, 0);
      expect(bytes).toBeLessThan(4000 + 1000);
      expect(log.some((l) => l.text === "[mlenv: log truncated at 4000 bytes]")).toBe(true);
      expect(log.some((l) => l.text === "4999")).toBe(false);
      expect(log.at(-1)?.text).toMatch(/^done: built sha256:/);

      const hit = await q.wait((await q.submit({ definition: noisy })).job.id);
      expect(hit.outcome).toMatchObject({ cacheHit: true });
      const forced = await q.wait((await q.submit({ definition: noisy, rebuild: true })).job.id);
      expect(forced.outcome).toMatchObject({ cacheHit: false, source: "built" });
      expect(forced.outcome?.steps.some((s) => s.cached)).toBe(false);
    } finally {
      await q.close();
    }
  }, 120_000);
});
