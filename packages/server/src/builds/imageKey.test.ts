import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { parseDefinition } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient } from "../../test/helpers";
import { silentLogger } from "../logger";
import { type RunningServer, startServer } from "../server";
import { serverCoreConfig } from "./buildSupport";
import { environmentImageKey } from "./imageKey";

describe("one image key: registry, runs and builds agree", () => {
  const dir = makeTempDir("mlenv-image-key-");
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  // custom base images, no engine: keys are computed without one
  const builds = {
    dockerHost: `unix://${join(dir.path, "no-engine.sock")}`,
    baseImageCpu: "local/base-cpu:keys",
    baseImageGpu: "local/base-gpu:keys-cuda-12.1.1",
    registry: "127.0.0.1:5999",
    pollMs: 50,
  };
  const { config } = serverCoreConfig(builds);
  let srv: RunningServer;
  const api = (method: string, path: string, body?: unknown) => apiClient(srv.url, admin)(method, path, body);

  beforeAll(async () => {
    srv = await startServer({ dataDir: dir.path, bootstrapToken: admin, logger: silentLogger, builds });
  });
  afterAll(async () => {
    await srv?.close();
    dir.cleanup();
  });

  it("for a GPU definition on a server with custom base images", async () => {
    // written with core's default base image and gpuSupport: it builds on the server's GPU image
    const reg = await api("POST", "/api/v1/environments", {
      definition: { name: "gpu-keys", docker: { gpuSupport: true } },
    });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const version = (await api("GET", "/api/v1/environments/gpu-keys")).json;
    const expected = environmentImageKey({ definition: parseDefinition(version.definition), config });
    expect(version.imageKey).toBe(expected);

    const snap = await api("POST", "/api/v1/snapshots", {
      files: [{ path: "train.py", content: Buffer.from("print(1)\n").toString("base64") }],
    });
    expect(snap.status, JSON.stringify(snap.json)).toBe(201);
    const run = await api("POST", "/api/v1/runs", {
      experiment: "keys",
      script: "train.py",
      snapshot: snap.json.id,
      target: "docker",
      environment: { name: "gpu-keys" },
    });
    expect(run.status, JSON.stringify(run.json)).toBe(201);
    expect(run.json.environment.imageKey).toBe(expected);

    const build = await api("POST", "/api/v1/environments/gpu-keys/builds", {});
    expect(build.status, JSON.stringify(build.json)).toBe(202);
    expect(build.json.job.imageKey).toBe(expected);
    expect(build.json.job.image).toBe(
      `127.0.0.1:5999/mlenv/env_${expected.slice(expected.indexOf(":") + 1)}:latest`,
    );
  });
});
