/**
 * Registry read path under load: 10,000 environments x 5 versions, `get` and `list` latency
 * (p50/p99) and requests/s over loopback, SQLite and PostgreSQL. The server runs in a child
 * process (this file, with MLENV_BENCH_REGISTRY_CHILD=1) so the load generator does not share
 * its event loop. Each line also carries the server's CPU time per request: other work on shared
 * cores moves it less than latency (though a busier loop batches fewer requests per wake-up).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { canonicalJson, definitionHash, parseDefinition, toReferenceJson } from "@mlenv/core";
import { blobDigest, FsBlobStore, openStore, Registry, silentLogger, startServer } from "@mlenv/server";
import { makeTempDir, postgresMissing, skipWithout, startPostgres } from "@mlenv/test-utils";
import { type BenchContext, type BenchSuite, percentile } from "../harness";

const ENVS = Number(process.env.MLENV_BENCH_REGISTRY_ENVS ?? 10_000);
const VERSIONS = 5;
const CONCURRENCY = 8;
const SECONDS = Number(process.env.MLENV_BENCH_REGISTRY_SECONDS ?? 5);

interface Seed {
  name: string;
  hash: string;
  json: string;
  blob: string;
}

const envName = (i: number) => `bench-${String(i).padStart(5, "0")}`;

/** Real definitions: parsed, hashed and canonicalised by core, like a register would. */
function makeSeeds(): Seed[][] {
  const out: Seed[][] = [];
  for (let i = 0; i < ENVS; i++) {
    const versions: Seed[] = [];
    for (let v = 1; v <= VERSIONS; v++) {
      const def = parseDefinition({
        name: envName(i),
        tags: { team: `t${i % 20}` },
        python: {
          condaDependencies: {
            name: "project_environment",
            channels: ["conda-forge"],
            dependencies: [
              "python=3.11",
              "pip",
              { pip: [`numpy==1.${v}.0`, "pandas==2.2.3", `pkg-${i}==1.0`] },
            ],
          },
        },
      });
      const json = canonicalJson(toReferenceJson({ ...def, version: null }));
      versions.push({
        name: def.name,
        hash: definitionHash(def),
        json,
        blob: blobDigest(new TextEncoder().encode(json)),
      });
    }
    out.push(versions);
  }
  return out;
}

async function seed(
  dataDir: string,
  database: string | undefined,
  token: string,
  seeds: Seed[][],
): Promise<void> {
  const store = await openStore({ dataDir, ...(database ? { database } : {}) });
  try {
    const reg = new Registry({ store, blobs: new FsBlobStore(`${dataDir}/blobs`) });
    await reg.bootstrap(token);
    const ws = (await store.getWorkspace("default"))!.id;
    const now = new Date().toISOString();
    let next = 0;
    const worker = async () => {
      while (next < seeds.length) {
        const versions = seeds[next++]!;
        for (const s of versions) {
          await store.register({
            workspaceId: ws,
            name: s.name,
            definitionHash: s.hash,
            definitionJson: s.json,
            definitionBlob: s.blob,
            description: null,
            tags: { team: "x" },
            curated: false,
            createdBy: "bench",
            now,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: database ? 8 : 1 }, worker));
    // Measure the steady state, not the planner's view of an empty database.
    await store.optimize();
  } finally {
    await store.close();
  }
}

/** Start the server in a child process; resolves with its URL. */
function spawnServer(dataDir: string, database: string | undefined, token: string) {
  const child = spawn(
    process.execPath,
    [
      // e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to see where the server's time goes
      ...(process.env.MLENV_BENCH_SERVER_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      "--conditions=@mlenv/source",
      fileURLToPath(import.meta.url),
    ],
    {
      env: {
        ...process.env,
        MLENV_BENCH_REGISTRY_CHILD: "1",
        MLENV_BENCH_DATA_DIR: dataDir,
        MLENV_BENCH_DATABASE: database ?? "",
        MLENV_BOOTSTRAP_TOKEN: token,
      },
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const url = new Promise<string>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /^listening (\S+)$/m.exec(buf);
      if (m) resolve(m[1]!);
    });
    child.once("exit", (code) => reject(new Error(`bench registry server exited with ${code}`)));
  });
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

interface LoadResult {
  latencies: number[];
  rps: number;
  errors: number;
  /** The server process's CPU time per request (user + system), when /proc tells it. */
  cpuMsPerRequest: number | null;
  /** Highest 1-minute load average seen at the start and end of the run. */
  load: number;
}

/**
 * CPU milliseconds a process has used (user + system, from /proc; null elsewhere): time spent
 * waiting for a core shared with other work is not in it, unlike in latency.
 */
function cpuMs(pid: number | undefined): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100;

/** A bounded concurrent loop of keep-alive GETs for `seconds` against the server process `pid`. */
async function load(
  url: string,
  token: string,
  pathFor: () => string,
  seconds: number,
  pid?: number,
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const { hostname, port } = new URL(url);
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const one = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request(
        { agent, hostname, port, path, method: "GET", headers: { authorization: `Bearer ${token}` } },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const load0 = loadavg()[0] ?? 0;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const s = performance.now();
        const status = await one(pathFor());
        latencies.push(performance.now() - s);
        if (status !== 200) errors++;
      }
    }),
  );
  const elapsed = (performance.now() - t0) / 1000;
  const cpu1 = cpuMs(pid);
  agent.destroy();
  return {
    latencies,
    rps: latencies.length / elapsed,
    errors,
    cpuMsPerRequest: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / latencies.length,
    load: Math.max(load0, loadavg()[0] ?? 0),
  };
}

interface BackendFigures {
  get: LoadResult;
  list: LoadResult;
}

async function measure(
  ctx: BenchContext,
  label: string,
  database: string | undefined,
  seeds: Seed[][],
): Promise<BackendFigures> {
  const dir = makeTempDir("mlenv-bench-registry-");
  const token = `mlenv_${randomBytes(32).toString("base64url")}`;
  try {
    const t0 = performance.now();
    await seed(dir.path, database, token, seeds);
    ctx.log(`${label}: seeded ${ENVS} x ${VERSIONS} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const server = spawnServer(dir.path, database, token);
    try {
      const url = await server.url;
      const rnd = () => Math.floor(Math.random() * ENVS);
      const getPath = () => {
        const i = rnd();
        // Half latest, half a pinned version, as runs and builds do.
        return i % 2
          ? `/api/v1/environments/${envName(i)}`
          : `/api/v1/environments/${envName(i)}/versions/${1 + (i % VERSIONS)}`;
      };
      const listPath = () => {
        const i = rnd();
        return `/api/v1/environments?limit=50&cursor=${Buffer.from(envName(i)).toString("base64url")}`;
      };
      await load(url, token, getPath, 1); // warm-up
      const get = await load(url, token, getPath, SECONDS, server.pid);
      const list = await load(url, token, listPath, Math.max(2, SECONDS / 2), server.pid);
      if (get.errors || list.errors) throw new Error(`${label}: ${get.errors + list.errors} non-200 answers`);
      for (const [what, r] of [
        ["get", get],
        ["list", list],
      ] as const) {
        ctx.report({
          bench: `registry ${what} p99 (${label})`,
          value: Number(percentile(r.latencies, 99).toFixed(3)),
          unit: "ms",
          // both routes: p99 under 10 ms on an idle machine (issue 23), list pages of 50 from a cursor
          target: 10,
          extra: {
            p50_ms: Number(percentile(r.latencies, 50).toFixed(3)),
            req_per_s: Math.round(r.rps),
            requests: r.latencies.length,
            ...(r.cpuMsPerRequest === null
              ? {}
              : { server_cpu_ms_per_req: Number(r.cpuMsPerRequest.toFixed(3)) }),
            concurrency: CONCURRENCY,
            // Other work on this shared machine shows up in the tail: how busy it was while measuring.
            loadavg_1m: Number(Math.max(get.load, list.load).toFixed(2)),
            ...(what === "get" && label === "sqlite" ? { target_req_per_s: 3000 } : {}),
          },
        });
      }
      return { get, list };
    } finally {
      await server.stop();
    }
  } finally {
    dir.cleanup();
  }
}

async function childMain(): Promise<void> {
  const database = process.env.MLENV_BENCH_DATABASE || undefined;
  const server = await startServer({
    dataDir: process.env.MLENV_BENCH_DATA_DIR!,
    ...(database ? { database, maxConnections: 16 } : {}),
    logger: silentLogger,
  });
  process.stdout.write(`listening ${server.url}\n`);
  process.once("SIGTERM", () => {
    void server.close().then(() => process.exit(0));
  });
}

export const suite: BenchSuite = {
  name: "registry",
  async run(ctx) {
    const t0 = performance.now();
    const seeds = makeSeeds();
    ctx.log(`prepared ${ENVS * VERSIONS} definitions in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const sqlite = await measure(ctx, "sqlite", undefined, seeds);
    if (skipWithout("postgres", postgresMissing())) return;
    const pg = await startPostgres();
    try {
      const postgres = await measure(ctx, "postgres", pg.url, seeds);
      for (const what of ["get", "list"] as const) {
        const p99 = (r: BackendFigures) => Number(percentile(r[what].latencies, 99).toFixed(3));
        ctx.compare({
          bench: `registry ${what} p99 postgres vs sqlite`,
          ours: p99(postgres),
          peer: "sqlite",
          theirs: p99(sqlite),
          unit: "ms",
          extra: {
            postgres_req_per_s: Math.round(postgres[what].rps),
            sqlite_req_per_s: Math.round(sqlite[what].rps),
            throughput_ratio: Number((postgres[what].rps / sqlite[what].rps).toFixed(3)),
            loadavg_1m: Number(Math.max(postgres[what].load, sqlite[what].load).toFixed(2)),
          },
        });
      }
    } finally {
      await pg.stop();
    }
  },
};

if (process.env.MLENV_BENCH_REGISTRY_CHILD === "1") await childMain();
