import { randomBytes } from "node:crypto";
import { defaultCoreConfig, definitionHash, imageKey, parseDefinition } from "@mlenv/core";
import { addPrivatePipWheel, Environment, Workspace } from "@mlenv/sdk";
import {
  baseImageCpu,
  buildWheel,
  dockerAvailable,
  makeTempDir,
  skipWithout,
  snapshotFiles,
  uniqueTag,
  uploadSnapshot,
  venvMissing,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, useServerWithoutEngine } from "../test/helpers";
import { serverCoreConfig } from "./builds/buildSupport";
import { DockerClient } from "./docker/index";
import { silentLogger } from "./logger";
import { type RunningServer, startServer } from "./server";

/**
 * Issue 15 (the reference's walkthrough on an offline server): a server whose base image setting
 * is its own. No Docker engine is needed here: what is checked is which image every default
 * definition names and is keyed on.
 */
describe("a server's base image setting reaches every default definition", () => {
  const builds = { baseImageCpu: "local/base-cpu:walkthrough", baseImageGpu: "local/base-gpu:walkthrough" };
  const { config } = serverCoreConfig(builds);
  const srv = useServerWithoutEngine(builds);
  const { api } = srv;
  let ws: Workspace;

  beforeAll(() => {
    ws = new Workspace({ url: srv.url, token: srv.token });
  });

  it("curated environments name the server's base image and are keyed on it", async () => {
    for (const name of ["mlenv-minimal", "mlenv-tutorial"]) {
      const got = await api("GET", `/api/v1/environments/${name}`);
      expect(got.status).toBe(200);
      expect(got.json.definition.docker.baseImage).toBe("local/base-cpu:walkthrough");
      expect(got.json.imageKey).toBe(imageKey(parseDefinition(got.json.definition), { config }));
    }
  });

  it("new Environment() from the SDK (core's default image) is keyed on the server's image", async () => {
    const env = new Environment("walkthrough-plain");
    expect(env.docker.baseImage).toBe(defaultCoreConfig.baseImages.cpu);
    const registered = await env.register(ws);
    const def = registered.toDefinition();
    expect(registered.registration?.imageKey).toBe(imageKey(def, { config }));
    expect(registered.registration?.imageKey).not.toBe(imageKey(def));
    // the same definition written with the server's image is the same image
    const explicit = parseDefinition({
      ...env.toJSON(),
      docker: { baseImage: "local/base-cpu:walkthrough" },
    });
    expect(imageKey(explicit, { config })).toBe(registered.registration?.imageKey);
    // asking for GPU gives the server's GPU image
    const gpu = new Environment("walkthrough-gpu");
    gpu.docker.gpuSupport = true;
    const g = await gpu.register(ws);
    const withGpu = parseDefinition({ ...g.toJSON(), docker: { baseImage: "local/base-gpu:walkthrough" } });
    expect(g.registration?.imageKey).toBe(imageKey(withGpu, { config }));
  });

  it.skipIf(skipWithout("python3-venv", venvMissing()))(
    "a local run's log shows no signed wheel URL (pip prints the URLs it collects)",
    async () => {
      const name = `mlenv-walk-local-${process.pid}`;
      const wheel = buildWheel({ name, version: "0.2" });
      const reference = await addPrivatePipWheel(ws, { filename: wheel.filename, bytes: wheel.bytes });
      const snapshot = await uploadSnapshot(api, {
        "train.py": `import ${name.replace(/-/g, "_")} as m\nprint("imported", m.VALUE)\n`,
      });
      const sub = await api("POST", "/api/v1/runs", {
        experiment: "walkthrough-local",
        script: "train.py",
        snapshot,
        environment: {
          definition: {
            name: `walk-local-${process.pid}`,
            python: { condaDependencies: { dependencies: ["python=3.11", { pip: [reference] }] } },
          },
        },
      });
      expect(sub.status, JSON.stringify(sub.json)).toBe(201);
      let run = sub.json;
      for (let i = 0; i < 600 && !["completed", "failed"].includes(run.status); i++) {
        await new Promise((r) => setTimeout(r, 200));
        run = (await api("GET", `/api/v1/runs/${sub.json.id}`)).json;
      }
      const log = (await api("GET", `/api/v1/runs/${run.id}/logs`)).json.items
        .map((l: { text: string }) => l.text)
        .join("\n");
      expect(run.status, log).toBe("completed");
      expect(log).toContain(`imported ${name} 0.2`);
      // pip did print the signed URL it collected from; its signature is gone
      expect(log).toMatch(/\/signed\/[0-9a-f]{64}\/[^?\s]+\?expires=\d+&sig=\*\*\*/);
      expect(log).not.toMatch(/sig=[A-Za-z0-9_-]{43}/);
    },
    300_000,
  );

  it("a definition naming no base image, locked by a client, registers with its lock (one definitionHash everywhere)", async () => {
    const json = {
      name: "walkthrough-locked",
      python: { condaDependencies: { dependencies: ["python=3.11"] } },
    };
    const clientHash = definitionHash(parseDefinition(json));
    const lock = { lockVersion: 1, definitionHash: clientHash, channels: [], indexes: [], platforms: {} };
    const got = await api("POST", "/api/v1/environments", { definition: json, lock });
    expect(got.status, JSON.stringify(got.json)).toBe(201);
    expect(got.json.environment.definitionHash).toBe(clientHash);
    // still built on the server's image
    const details = await api("GET", "/api/v1/environments/walkthrough-locked");
    expect(details.json.definition.docker.baseImage).toBe(defaultCoreConfig.baseImages.cpu);
  });

  it("a run submitted without an environment registers the default one on the server's image", async () => {
    const sub = await api("POST", "/api/v1/runs", {
      experiment: "walkthrough",
      script: "train.py",
      snapshot: await uploadSnapshot(api, { "train.py": "print(1)\n" }),
      target: "docker",
    });
    expect(sub.status, JSON.stringify(sub.json)).toBe(201);
    const env = await api("GET", "/api/v1/environments/default-run-environment");
    expect(env.json.definition.docker.baseImage).toBe("local/base-cpu:walkthrough");
    expect(sub.json.environment.imageKey).toBe(env.json.imageKey);
    expect(env.json.imageKey).toBe(imageKey(parseDefinition(env.json.definition), { config }));
  });
});

const reason = await dockerAvailable();
const tag = uniqueTag();

/** The walkthrough on a real engine, offline: the local base image without conda. */
describe.skipIf(skipWithout("docker", reason))("the walkthrough on a real engine", () => {
  const dir = makeTempDir("mlenv-walkthrough-docker-");
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  const docker = new DockerClient();
  const images = new Set<string>();
  const priv = `mlenv-walk-priv-${tag}`;
  const mod = priv.replace(/-/g, "_");
  let srv: RunningServer;
  let ws: Workspace;
  const api = (method: string, path: string, body?: unknown) => apiClient(srv.url, admin)(method, path, body);
  const final = async (path: string, done: (j: { status: string }) => boolean, timeoutMs = 300_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await api("GET", path);
      if (done(r.json)) return r.json;
      if (Date.now() > end) throw new Error(`${path} still ${r.json.status}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  };
  const logText = async (path: string) =>
    (await api("GET", path)).json.items.map((l: { text: string }) => l.text).join("\n") as string;

  beforeAll(async () => {
    srv = await startServer({
      dataDir: dir.path,
      bootstrapToken: admin,
      logger: silentLogger,
      builds: { baseImageCpu: baseImageCpu(), condaExecutable: null, pollMs: 100 },
    });
    ws = new Workspace({ url: srv.url, token: admin, timeoutMs: 120_000 });
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
    dir.cleanup();
  });

  it("a Python the conda-less base image does not have is refused, naming the field and the base image's version", async () => {
    const env = Environment.fromDefinition({
      name: `walk-py39-${tag}`,
      python: { condaDependencies: { dependencies: ["python=3.9", { pip: [] }] } },
    });
    const build = await env.build(ws);
    images.add(build.info.image);
    const err = (await build.waitForCompletion().catch((e: unknown) => e)) as {
      code: string;
      message: string;
    };
    expect(err.code).toBe("E_BUILD_FAILED");
    expect(build.info.error?.code).toBe("E_PYTHON_UNAVAILABLE");
    expect(build.info.error?.message).toMatch(
      /python\.condaDependencies\.dependencies\[0\] asks for "python=3\.9", but the base image \S+ has Python 3\.11\.\d+/,
    );
    expect(build.info.outcome).toBeNull();
    // a docker-target run of it fails the same way, before any image is built
    const sub = await api("POST", "/api/v1/runs", {
      experiment: "walkthrough",
      script: "train.py",
      snapshot: await uploadSnapshot(api, { "train.py": "print(1)\n" }),
      target: "docker",
      environment: { name: env.name },
    });
    const run = await final(`/api/v1/runs/${sub.json.id}`, (j) => ["completed", "failed"].includes(j.status));
    expect(run.status).toBe("failed");
    expect(await logText(`/api/v1/runs/${run.id}/logs`)).toContain('asks for "python=3.9"');
  }, 300_000);

  it("docker-target runs and services build an environment with a private wheel in their workspace", async () => {
    const wheel = buildWheel({ name: priv, version: "0.1" });
    const reference = await addPrivatePipWheel(ws, { filename: wheel.filename, bytes: wheel.bytes });
    const definition = {
      name: `walk-private-${tag}`,
      python: { condaDependencies: { dependencies: ["python=3.11", { pip: [reference] }] } },
    };
    const snapshot = await uploadSnapshot(api, {
      "train.py": `import ${mod}\nprint("imported", ${mod}.VALUE)\n`,
      "score.py": `import ${mod}\ndef init():\n    pass\ndef run(raw):\n    return {"value": ${mod}.VALUE}\n`,
    });
    const sub = await api("POST", "/api/v1/runs", {
      experiment: "walkthrough",
      script: "train.py",
      snapshot,
      target: "docker",
      environment: { definition },
    });
    expect(sub.status, JSON.stringify(sub.json)).toBe(201);
    const key: string = sub.json.environment.imageKey;
    images.add(`mlenv/env_${key.slice(key.lastIndexOf(":") + 1)}:latest`);
    const run = await final(`/api/v1/runs/${sub.json.id}`, (j) =>
      ["completed", "failed", "canceled"].includes(j.status),
    );
    const log = await logText(`/api/v1/runs/${run.id}/logs`);
    expect(run.status, log).toBe("completed");
    expect(log).toContain(`imported ${priv} 0.1`);
    for (const secret of ["sig=", "/signed/", admin]) expect(log).not.toContain(secret);

    // a service of the same environment: its image comes from the same workspace build (cached)
    const model = await api("POST", "/api/v1/models", {
      name: `walk-model-${tag}`,
      files: snapshotFiles({ "model.json": "{}" }),
    });
    expect(model.status, JSON.stringify(model.json)).toBe(201);
    const svc = await api("POST", "/api/v1/services", {
      name: `walk-svc-${tag}`,
      target: "docker",
      model: { name: model.json.model.name, version: model.json.model.version },
      entryScript: "score.py",
      snapshot,
      environment: { definition },
    });
    expect(svc.status, JSON.stringify(svc.json)).toBe(201);
    const live = await final(`/api/v1/services/${svc.json.name}`, (j) =>
      ["healthy", "failed"].includes(j.status),
    );
    const svcLog = await logText(`/api/v1/services/${svc.json.name}/logs`);
    expect(live.status, svcLog).toBe("healthy");
    const scored = await api("POST", `/api/v1/services/${svc.json.name}/score`, { data: [] });
    expect(scored.json).toEqual({ value: `${priv} 0.1` });
    for (const secret of ["sig=", "/signed/", admin]) expect(svcLog).not.toContain(secret);
    expect((await api("DELETE", `/api/v1/services/${svc.json.name}`)).status).toBe(204);
  }, 600_000);
});
