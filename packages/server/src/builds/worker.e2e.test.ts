import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDefinition } from "@mlenv/core";
import { Workspace } from "@mlenv/sdk";
import { baseImageCpu, skipWithout, wheelProjects } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { serveMainCommand } from "../../test/helpers";
import { DockerClient } from "../docker/index";
import { silentLogger } from "../logger";
import { openStore, startServer } from "../server";
import { openWheelSupport } from "../wheels/support";
import { openBuildSupport } from "./buildSupport";

const reason = await imageBuildsMissing();
const run = `${process.pid}w${Date.now().toString(36)}`;

/**
 * A standalone worker (`serveMain.ts worker`, what `mlenv server worker` runs) builds exactly as
 * the server would: its settings come from a config file with the server's base image, registry
 * and conda executable; the job's workspace secret reaches pip through the worker's own one-time
 * payload route; the image is the one the job recorded.
 */
describe.skipIf(skipWithout("docker", reason))(
  "a standalone build worker has the server's build settings",
  () => {
    const docker = new DockerClient();
    const pub = `mlenv-worker-pub-${run}`;
    const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
    const secretValue = `idx-${randomBytes(12).toString("hex")}`;
    const dir = useTempDir("mlenv-worker-e2e-");
    const { registry, index, images } = useImageBuilds(docker, {
      index: () => ({ projects: wheelProjects({ [pub]: ["1.0"] }) }),
    });
    const children: ChildProcess[] = [];

    afterAll(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    });

    it("builds a job that needs the server's base image and a secret index, as recorded", async () => {
      // the server's build settings, in the file both the server's operator and the worker use
      const builds = { registry: registry.address, baseImageCpu: baseImageCpu(), condaExecutable: null };
      const configFile = join(dir.path, "server.yaml");
      writeFileSync(
        configFile,
        [
          `dataDir: ${dir.path}`,
          `registry: "${registry.address}"`,
          `baseImageCpu: ${baseImageCpu()}`,
          "condaExecutable: none",
          "logLevel: info",
        ].join("\n"),
      );

      // the server stores the workspace secret (encrypted with the data dir's key), then stops
      const srv = await startServer({
        dataDir: dir.path,
        bootstrapToken: admin,
        logger: silentLogger,
        builds,
      });
      try {
        const ws = new Workspace({ url: srv.url, token: admin });
        await ws.wheels.setSecret("IDX", secretValue, { allowedHosts: [new URL(index.url).host] });
      } finally {
        await srv.close();
      }
      // a job queued as the server queues it (its build support, not started: it only submits);
      // no base image named, so the server's one is used
      const store = await openStore({ dataDir: dir.path });
      const wheels = openWheelSupport({ dataDir: dir.path });
      const server = openBuildSupport({ dataDir: dir.path, store, wheels, builds });
      const workspaceId = (await store.listWorkspaces()).find((w) => w.name === "default")!.id;
      const indexUrl = index.url.replace("http://", `http://ci:\${MLENV_SECRET_IDX}@`);
      const definition = parseDefinition(
        {
          name: `worker-${run}`,
          python: {
            condaDependencies: {
              dependencies: ["python=3.11", { pip: [`--index-url ${indexUrl}/`, `${pub}==1.0`] }],
            },
          },
        },
        { config: server.config },
      );
      const { jobs, queue: submitter } = server;
      try {
        const { job } = await submitter.submit({ definition, workspaceId });
        expect(job.image.startsWith(`${registry.address}/mlenv/env_`)).toBe(true);

        const [node, ...args] = serveMainCommand("worker", "--config", configFile);
        const child = spawn(node, args, {
          stdio: ["ignore", "pipe", "pipe"],
          // nothing of the server's build settings in the worker's environment
          env: {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
          },
        });
        children.push(child);
        let stderr = "";
        child.stderr?.on("data", (c: Buffer) => {
          stderr += c.toString();
        });
        const ready = await new Promise<{ url: string }>((resolve, reject) => {
          let out = "";
          child.stdout?.on("data", (c: Buffer) => {
            out += c.toString();
            const line = out.split("\n").find((l) => l.includes('"ready"'));
            if (line) resolve(JSON.parse(line) as { url: string });
          });
          child.once("exit", (code) => reject(new Error(`worker exited with ${code}: ${stderr}`)));
        });
        expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

        const done = await submitter.wait(job.id);
        const log = (await jobs.logs(job.id)).map((l) => l.text).join("\n");
        expect(done.status, `${log}\n${stderr}`).toBe("succeeded");
        images.add(done.image);
        // the image the job recorded, pushed to the server's registry
        expect(done.outcome?.image).toBe(job.image);
        expect(done.outcome?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
        expect(done.outcome?.dockerfile).toContain(`FROM ${baseImageCpu()}`);
        expect(done.outcome?.dockerfile).toContain("mlenv_pip.py");
        // the secret index answered pip (through the worker's one-time payload), and never shows
        const imported = await docker.run({
          image: job.image,
          cmd: [
            "sh",
            "-c",
            `exec "$MLENV_PYTHON" -c "import ${pub.replace(/-/g, "_")} as m; print(m.VALUE)"`,
          ],
        });
        expect(imported.stdout.trim()).toBe(`${pub} 1.0`);
        expect(log).toContain(`build job ${job.id}: image ${job.image}`);
        for (const text of [log, stderr, JSON.stringify(await docker.imageHistory(job.image))]) {
          expect(text.includes(secretValue)).toBe(false);
        }
        const once = /MLENV_PIP_SECRETS_URL=(\S+)/.exec(
          (await docker.imageHistory(job.image)).map((h) => h.CreatedBy).join("\n"),
        )?.[1];
        expect(once?.startsWith(`${ready.url}/build-secrets/v1/`)).toBe(true);

        child.kill("SIGTERM");
        expect(await new Promise((r) => child.once("exit", (code) => r(code)))).toBe(0);
      } finally {
        await server.close();
        await wheels.close();
        await store.close();
      }
    }, 300_000);
  },
);
