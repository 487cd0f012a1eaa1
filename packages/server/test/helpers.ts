import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiClient } from "@mlenv/test-utils";
import {
  type TestServerFixture,
  useImageCleanup,
  useTempDir,
  useTestServer,
} from "@mlenv/test-utils/fixtures";
import { expect } from "vitest";
import { ImageBuilder } from "../src/builds/builder";
import type { BuildSupportOptions } from "../src/builds/buildSupport";
import { PostgresStore, SqliteStore } from "../src/database";
import { DockerClient } from "../src/docker/index";
import { openRunStore } from "../src/runs/runStore";
import { startServer } from "../src/server";
import { SERVICE_TOKEN_HEADER } from "../src/services/serviceManager";
import type { SqlLocation } from "../src/store/database";

export {
  apiClient,
  serveMainCommand,
  snapshotFiles,
  spawnServer,
  uploadSnapshot,
  venvMissing,
} from "@mlenv/test-utils";

/**
 * PUT the file at `path` as wheel `filename` to `server` with curl (another process, streaming
 * from disk); answers the HTTP status and the response body.
 */
export function curlUploadWheel(
  server: { url: string; token: string },
  path: string,
  filename: string,
): Promise<{ status: number; body: string }> {
  const args = ["-sS", "-w", "\n%{http_code}", "-T", path, "-H", `authorization: Bearer ${server.token}`];
  return new Promise((resolve, reject) =>
    execFile(
      "curl",
      [...args, `${server.url}/upload/v1/wheels/${filename}`],
      { maxBuffer: 1 << 20 },
      (err, out) => {
        if (err) return reject(err);
        const nl = out.lastIndexOf("\n");
        resolve({ status: Number(out.slice(nl + 1)), body: out.slice(0, nl) });
      },
    ),
  );
}

/** Host pids of live processes whose command line holds `marker`. */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${name}/status`, "utf8"))?.[1];
      if (cmd.includes(marker) && state !== "Z") out.push(Number(name));
    } catch {}
  }
  return out;
}

/** The headers a request straight to a service's worker needs (its token, read from the SQLite database of `dataDir`). */
export async function workerHeaders(dataDir: string, serviceId: string): Promise<Record<string, string>> {
  const store = openRunStore({ sqliteFile: join(dataDir, "mlenv.db") });
  try {
    return { [SERVICE_TOKEN_HEADER]: await store.serviceWorkerToken(serviceId) };
  } finally {
    await store.close();
  }
}

/** The body of `POST /api/v1/services` that deploys `score.py` of `snapshot` with the latest version of `model`. */
export function serviceRequest(
  name: string,
  model: string,
  snapshot: string,
  more: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name, model: { name: model }, entryScript: "score.py", snapshot, ...more };
}

/**
 * A migrated store for a store test: on the PostgreSQL `database` when given, else on mlenv.db in
 * `dataDir`; `location` is where, for the other stores that share its database.
 */
export async function openTestStore(
  dataDir: string,
  database: string | undefined,
): Promise<{ store: SqliteStore | PostgresStore; location: SqlLocation }> {
  const location: SqlLocation = database
    ? { postgresUrl: database }
    : { sqliteFile: join(dataDir, "mlenv.db") };
  const store =
    "postgresUrl" in location
      ? new PostgresStore(location.postgresUrl)
      : new SqliteStore(location.sqliteFile);
  await store.migrate();
  return { store, location };
}

/**
 * A feature's store, `open(location)`, beside a migrated test store (see openTestStore) in the
 * same database; `done` closes both.
 */
export async function openFeatureStore<T extends { close(): Promise<void> }>(
  dataDir: string,
  database: string | undefined,
  open: (location: SqlLocation) => T,
): Promise<{ store: SqliteStore | PostgresStore; location: SqlLocation; opened: T; done(): Promise<void> }> {
  const { store, location } = await openTestStore(dataDir, database);
  const opened = open(location);
  return {
    store,
    location,
    opened,
    async done() {
      await opened.close();
      await store.close();
    },
  };
}

/**
 * For the image builds of the current block: the engine, a temporary work directory (`prefix`),
 * the set of images to remove after the tests, and a builder that installs conda prefixes itself,
 * in the work directory (prefixes/, pkgs/).
 */
export function useCondaPrefixBuilds(prefix: string): {
  docker: DockerClient;
  tmp: { path: string };
  images: Set<string>;
  builder: ImageBuilder;
} {
  const docker = new DockerClient();
  const tmp = useTempDir(prefix);
  const images = useImageCleanup(docker);
  const builder = new ImageBuilder({
    docker,
    condaPrefix: { dir: join(tmp.path, "prefixes"), packageCache: join(tmp.path, "pkgs") },
  });
  return { docker, tmp, images, builder };
}

/**
 * A server for the tests of the current block (see useTestServer) whose builds have `builds`
 * (base images, registry) and a Docker host that does not exist: image keys are computed, no
 * image is built.
 */
export function useServerWithoutEngine(builds: BuildSupportOptions): TestServerFixture {
  return useTestServer((o) =>
    startServer({
      ...o,
      builds: { dockerHost: `unix://${join(o.dataDir, "no-engine.sock")}`, pollMs: 50, ...builds },
    }),
  );
}

/**
 * A definition (JSON, as clients send it) of python 3.11 and pip from conda-forge with the `pip`
 * requirements, and `extra` top-level fields.
 */
export function pipDefinition(
  name: string,
  pip: string[] = ["requests==2.32.3"],
  extra: Record<string, unknown> = {},
) {
  return {
    name,
    python: {
      condaDependencies: {
        name: "project_environment",
        channels: ["conda-forge"],
        dependencies: ["python=3.11", "pip", { pip }],
      },
    },
    ...extra,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: a run's JSON, checked field by field with expect()
type RunJson = any;

const isFinal = (run: RunJson) => ["completed", "failed", "canceled"].includes(run.status);

/**
 * Poll run `id` through `api` until `until(run)` (by default: it has ended); answers the run. A
 * request that fails just then (a keep-alive connection the server closes) is asked again.
 */
export async function pollRun(
  api: ApiClient,
  id: string,
  { until = isFinal, timeoutMs = 120_000 }: { until?: (run: RunJson) => boolean; timeoutMs?: number } = {},
): Promise<RunJson> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await api("GET", `/api/v1/runs/${id}`).catch(() => null);
    if (r && until(r.json)) return r.json;
    if (Date.now() > end) throw new Error(`run ${id} still ${JSON.stringify(r?.json)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** Run `id`'s log lines, joined by newlines. */
export async function runLog(api: ApiClient, id: string): Promise<string> {
  const r = await api("GET", `/api/v1/runs/${id}/logs`);
  return r.json.items.map((l: { text: string }) => l.text).join("\n");
}

/** Wait for run `id` to end and check that it completed (its log says why not); the run and its log. */
export async function completedRun(
  api: ApiClient,
  id: string,
  timeoutMs?: number,
): Promise<{ run: RunJson; log: string }> {
  const run = await pollRun(api, id, timeoutMs === undefined ? {} : { timeoutMs });
  const log = await runLog(api, id);
  expect(run.status, log).toBe("completed");
  return { run, log };
}
