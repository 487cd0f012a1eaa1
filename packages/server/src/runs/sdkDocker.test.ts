/**
 * The done-when scenario on the docker target, through the SDK: train a tiny pure-Python model in
 * a registered environment in a host-network container of its image, register the output as a
 * model, deploy it in a container of the same image, score it over HTTP.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { Environment, InferenceConfig, ScriptRunConfig, Webservice, Workspace } from "@mlenv/sdk";
import { deploy, Experiment } from "@mlenv/sdk/node";
import { baseImageCpu, dockerAvailable, LINEAR_SCORE_PY, skipWithout } from "@mlenv/test-utils";
import { beforeAll, describe, expect, it } from "vitest";
import { useRunSupport } from "../../test/runSupport";
import { createApp } from "../app";
import { generateToken } from "../auth";

const reason = await dockerAvailable();

const TRAIN = `
import json, os, mlenv_run
data = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]
w, b = 0.0, 0.0
for epoch in range(3000):
    gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - 0.05 * gw, b - 0.05 * gb
mlenv_run.log("loss", sum((w * x + b - y) ** 2 for x, y in data) / len(data))
os.makedirs("outputs", exist_ok=True)
json.dump({"w": w, "b": b}, open("outputs/model.json", "w"))
print("trained in a container:", os.path.exists("/.dockerenv"))
`;

describe.skipIf(skipWithout("docker", reason))("SDK end to end on the docker target", () => {
  const token = generateToken();
  let server: ReturnType<typeof serve> | undefined;
  let ws: Workspace;
  const fx = useRunSupport({
    prefix: "mlenv-sdk-docker-",
    docker: true,
    token,
    beforeStart: async ({ store, blobs, support }) => {
      const { app } = createApp({ store, blobs, runs: support });
      const s = await new Promise<ReturnType<typeof serve>>((resolve) => {
        const s = serve({ fetch: app.fetch, hostname: "127.0.0.1", port: 0 }, () => resolve(s));
      });
      server = s;
      const url = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
      support.setBaseUrl(url);
      ws = new Workspace({ url, token });
    },
    afterClose: () => new Promise<void>((r) => (server ? server.close(() => r()) : r())),
  });
  const { client } = fx;
  beforeAll(() => {
    mkdirSync(join(fx.path, "train"));
    mkdirSync(join(fx.path, "serve"));
    writeFileSync(join(fx.path, "train", "train.py"), TRAIN);
    writeFileSync(join(fx.path, "serve", "score.py"), LINEAR_SCORE_PY);
  });

  it("trains in a container, registers the output, deploys it in a container and scores it", async () => {
    const env = new Environment("docker-regression");
    env.docker.baseImage = baseImageCpu();
    const registered = await env.register(ws);
    const run = await new Experiment(ws, "docker-tiny").submit(
      new ScriptRunConfig({
        sourceDirectory: join(fx.path, "train"),
        script: "train.py",
        computeTarget: "docker",
        environment: registered,
      }),
    );
    const lines: string[] = [];
    await run.waitForCompletion({ showOutput: true, output: (l) => lines.push(l), timeoutMs: 600_000 });
    expect(lines).toContain("trained in a container: True");
    expect(run.info.target).toBe("docker");
    expect((await run.getEnvironment()).version).toBe(1);
    expect((await run.getMetrics()).loss).toHaveLength(1);
    const model = await run.registerModel("docker-regression-model", "outputs/model.json");

    const inferenceConfig = new InferenceConfig({
      entryScript: "score.py",
      sourceDirectory: join(fx.path, "serve"),
      environment: registered,
    });
    for (const bad of [{ cpuCores: -1 }, { memoryGb: 0 }, { cpuCores: 5000 }]) {
      await expect(
        deploy(ws, {
          name: "docker-regression",
          models: [model],
          inferenceConfig,
          deploymentConfig: { target: "docker", ...bad },
        }),
      ).rejects.toMatchObject({
        status: 400,
        message: expect.stringMatching(/deploymentConfig\.\w+.*0\.01 to 1024/),
      });
    }
    expect((await Webservice.list(ws)).map((s) => s.name)).not.toContain("docker-regression");

    const service = await deploy(ws, {
      name: "docker-regression",
      models: [model],
      inferenceConfig,
      deploymentConfig: { target: "docker", cpuCores: 0.5, memoryGb: 0.25 },
    });
    await service.waitForDeployment({ timeoutMs: 600_000 });
    expect(service.info).toMatchObject({
      target: "docker",
      environment: { name: "docker-regression", version: 1 },
      deploymentConfig: { cpuCores: 0.5, memoryGb: 0.25 },
      limitsEnforced: true,
    });
    const [containerId, ...others] = await client.containersWithLabel("mlenv.service", service.info.id);
    expect(others).toEqual([]);
    const inspected = await client.inspectContainer(containerId!);
    expect(inspected?.HostConfig).toMatchObject({ NanoCpus: 500_000_000, Memory: 256 * 1024 * 1024 });
    const score = (await service.run({ data: [10] })) as { predictions: number[] };
    expect(score.predictions[0]).toBeCloseTo(21, 1);
    await service.delete();
  }, 900_000);
});
