/**
 * [slow] The server image (packages/server/Dockerfile via scripts/build-server-image.sh), built on
 * the local Docker engine from the local base image with host networking and no pulls, then run
 * as a container on SQLite and on PostgreSQL: /healthz, the HEALTHCHECK, a register round trip
 * through the SDK, /metrics, the non-root user, and a graceful stop (exit 0 on SIGTERM).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { Environment, Workspace } from "@mlenv/sdk";
import {
  baseImageCpu,
  dockerAvailable,
  type PostgresHandle,
  postgresMissing,
  skipWithout,
  startPostgres,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPackages, withBuildLock } from "../scripts/checkPackages";

const root = join(import.meta.dirname, "..");
const tag = `mlenv/server:test-${process.pid}`;
const dockerMissing = await dockerAvailable({ needBaseImage: true });
const containers: string[] = [];

function docker(
  args: string[],
  timeout = 120_000,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("docker", args, { encoding: "utf8", timeout });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`Expected ${what} within ${ms} ms; last error: ${String(last)}`);
}

/** Run the image; returns its URL, bootstrap token and container name. */
async function runContainer(env: Record<string, string>) {
  const port = await freePort();
  const token = `mlenv_${randomBytes(32).toString("base64url")}`;
  const name = `mlenv-server-test-${process.pid}-${containers.length}`;
  const envArgs = Object.entries({
    ...env,
    MLENV_PORT: String(port),
    MLENV_HOST: "127.0.0.1",
    MLENV_BOOTSTRAP_TOKEN: token,
  }).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  const r = docker(["run", "-d", "--network", "host", "--name", name, ...envArgs, tag]);
  if (r.status !== 0) throw new Error(`docker run failed: ${r.stderr}`);
  containers.push(name);
  const url = `http://127.0.0.1:${port}`;
  await until(
    "the container's /healthz",
    async () => ((await fetch(`${url}/healthz`)).ok ? true : undefined),
    60_000,
  );
  return { url, token, name };
}

async function registerRoundTrip(url: string, token: string, store: string) {
  const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string; store: string };
  expect(health).toEqual({ status: "ok", store });
  const ws = new Workspace({ url, token });
  const env = new Environment(`image-${store}`);
  env.python.condaDependencies.addPipPackage("numpy==2.1.0");
  const first = await env.register(ws);
  expect(first.version).toBe("1");
  const again = await env.register(ws);
  expect(again.version).toBe("1"); // unchanged definition: no new version
  const got = await Environment.get(ws, `image-${store}`);
  expect(got.python.condaDependencies.pipPackages).toEqual(["numpy==2.1.0"]);
  // The web UI's prebuilt bundle ships in the image (no esbuild or sources needed at run time).
  const ui = await fetch(`${url}/ui/app.js`);
  expect(ui.status).toBe(200);
  expect((await ui.text()).length).toBeGreaterThan(1000);
  const metrics = await (await fetch(`${url}/metrics`)).text();
  // First registration 201 (created), the identical second one 200: both counted by route pattern.
  for (const status of ["201", "200"]) {
    expect(metrics).toContain(
      `mlenv_http_requests_total{method="POST",route="/api/v1/environments",status="${status}"} 1`,
    );
  }
}

function stopGracefully(name: string): void {
  expect(docker(["stop", "--time", "20", name]).status).toBe(0);
  expect(docker(["inspect", "--format", "{{.State.ExitCode}}", name]).stdout.trim()).toBe("0");
}

describe.skipIf(skipWithout("docker", dockerMissing))(
  "[slow] server image on the local Docker engine",
  () => {
    beforeAll(() => {
      // Built and read (pnpm deploy) under one lock: test/packages.test.ts builds the same dist/.
      const r = withBuildLock(() => {
        buildPackages();
        return spawnSync(join(root, "scripts", "build-server-image.sh"), [tag], {
          cwd: root,
          encoding: "utf8",
          env: { ...process.env, MLENV_BASE_IMAGE_CPU: baseImageCpu() },
          timeout: 600_000,
        });
      });
      if (r.status !== 0) {
        const why = r.error ? String(r.error) : `exit ${r.status}${r.signal ? `, signal ${r.signal}` : ""}`;
        throw new Error(
          `image build failed (${why}):\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`,
        );
      }
    }, 900_000);

    afterAll(() => {
      for (const c of containers) docker(["rm", "-f", "-v", c]);
      docker(["rmi", "-f", tag]);
    });

    it("is non-root with a data volume and a health check", () => {
      const cfg = JSON.parse(docker(["image", "inspect", "--format", "{{json .Config}}", tag]).stdout) as {
        User: string;
        Volumes: Record<string, unknown>;
        Healthcheck: { Test: string[] };
      };
      expect(cfg.User).toBe("mlenv:mlenv");
      expect(Object.keys(cfg.Volumes)).toEqual(["/data"]);
      expect(cfg.Healthcheck.Test.join(" ")).toContain("/healthz");
    });

    it("serves on SQLite: /healthz, HEALTHCHECK healthy, register round trip, graceful stop", async () => {
      const { url, token, name } = await runContainer({});
      await registerRoundTrip(url, token, "sqlite");
      expect(docker(["exec", name, "id", "-u"]).stdout.trim()).toBe("10001");
      await until(
        "Docker to report the container healthy",
        async () =>
          docker(["inspect", "--format", "{{.State.Health.Status}}", name]).stdout.trim() === "healthy"
            ? true
            : undefined,
        60_000,
      );
      stopGracefully(name);
    }, 180_000);

    describe.skipIf(skipWithout("postgres", postgresMissing()))("on PostgreSQL", () => {
      let pg: PostgresHandle;
      beforeAll(async () => {
        pg = await startPostgres();
      });
      afterAll(async () => {
        await pg?.stop();
      });

      it("serves on PostgreSQL: register round trip, graceful stop", async () => {
        const { url, token, name } = await runContainer({ MLENV_DATABASE_URL: pg.createDatabase("image") });
        await registerRoundTrip(url, token, "postgres");
        stopGracefully(name);
      }, 180_000);
    });
  },
);
