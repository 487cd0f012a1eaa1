import { parseDefinition } from "@mlenv/core";
import { describe, expect, it } from "vitest";
import { uploadSnapshot, useServerWithoutEngine } from "../../test/helpers";
import { serverCoreConfig } from "./buildSupport";
import { environmentImageKey } from "./imageKey";

describe("one image key: registry, runs and builds agree", () => {
  // custom base images, no engine: keys are computed without one
  const builds = {
    baseImageCpu: "local/base-cpu:keys",
    baseImageGpu: "local/base-gpu:keys-cuda-12.1.1",
    registry: "127.0.0.1:5999",
  };
  const { config } = serverCoreConfig(builds);
  const { api } = useServerWithoutEngine(builds);

  it("for a GPU definition on a server with custom base images", async () => {
    // written with core's default base image and gpuSupport: it builds on the server's GPU image
    const reg = await api("POST", "/api/v1/environments", {
      definition: { name: "gpu-keys", docker: { gpuSupport: true } },
    });
    expect(reg.status, JSON.stringify(reg.json)).toBe(201);
    const version = (await api("GET", "/api/v1/environments/gpu-keys")).json;
    const expected = environmentImageKey({ definition: parseDefinition(version.definition), config });
    expect(version.imageKey).toBe(expected);

    const run = await api("POST", "/api/v1/runs", {
      experiment: "keys",
      script: "train.py",
      snapshot: await uploadSnapshot(api, { "train.py": "print(1)\n" }),
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
