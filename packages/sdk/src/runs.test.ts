import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LINEAR_SCORE_PY, makeTempDir, skipWithout, type TestServer, venvMissing } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServerWorkspace } from "../test/serverWorkspace";
import { Environment } from "./environment";
import { isMlenvError } from "./errors";
import { deploy, Experiment, snapshotDirectory } from "./node";
import { Estimator, InferenceConfig, Model, Run, ScriptRunConfig, Webservice } from "./runs";
import type { Workspace } from "./workspace";

/** Fits y = w*x + b by gradient descent on (1,3),(2,5),(3,7),(4,9): w=2, b=1. Pure Python. */
const TRAIN = `
import json, os, sys
import mlenv_run
epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
data = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0), (4.0, 9.0)]
w, b, lr = 0.0, 0.0, 0.05
for epoch in range(epochs):
    gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - lr * gw, b - lr * gb
    loss = sum((w * x + b - y) ** 2 for x, y in data) / len(data)
    if epoch % 100 == 0:
        mlenv_run.log("loss", loss)
        print("epoch", epoch, "loss", round(loss, 6))
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"w": w, "b": b}, f)
print("trained w=%.3f b=%.3f" % (w, b))
`;

describe("snapshotDirectory", () => {
  it("honours .mlenvignore (globs, directories, negation), skips caches, and refuses oversized sources", () => {
    const t = makeTempDir("mlenv-snap-");
    try {
      const d = t.path;
      mkdirSync(join(d, "data"));
      mkdirSync(join(d, "src", "__pycache__"), { recursive: true });
      writeFileSync(join(d, "train.py"), "print(1)\n");
      writeFileSync(join(d, "src", "util.py"), "X = 1\n");
      writeFileSync(join(d, "src", "__pycache__", "util.cpython-311.pyc"), "x");
      writeFileSync(join(d, "data", "big.csv"), "1,2\n");
      writeFileSync(join(d, "notes.log"), "x");
      writeFileSync(join(d, "keep.log"), "x");
      writeFileSync(join(d, ".mlenvignore"), "# data stays local\ndata/\n*.log\n!keep.log\n");
      expect(snapshotDirectory(d).map((f) => f.path)).toEqual([
        ".mlenvignore",
        "keep.log",
        "src/util.py",
        "train.py",
      ]);
      writeFileSync(join(d, "weights.bin"), new Uint8Array(2048));
      let err: unknown;
      try {
        snapshotDirectory(d, { maxBytes: 1024 });
      } catch (e) {
        err = e;
      }
      expect(isMlenvError(err, "E_SNAPSHOT_TOO_LARGE")).toBe(true);
      expect((err as Error).message).toMatch(/weights\.bin \(2048 bytes\).*\.mlenvignore/);
    } finally {
      t.cleanup();
    }
  });
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "train, register, deploy, score through the SDK (real server, python3 venv)",
  () => {
    let server: TestServer;
    let ws: Workspace;
    const t = makeTempDir("mlenv-sdk-runs-");
    beforeAll(async () => {
      ({ server, ws } = await startServerWorkspace());
      mkdirSync(join(t.path, "train"));
      mkdirSync(join(t.path, "serve"));
      writeFileSync(join(t.path, "train", "train.py"), TRAIN);
      writeFileSync(join(t.path, "serve", "score.py"), LINEAR_SCORE_PY);
    });
    afterAll(async () => {
      await server?.stop();
      t.cleanup();
    });

    it("trains a tiny model on local, registers its output, deploys it in the same environment and scores it", async () => {
      const env = await new Environment("tiny-regression").register(ws);
      const exp = new Experiment(ws, "tiny");
      const run = await exp.submit(
        new ScriptRunConfig({
          sourceDirectory: join(t.path, "train"),
          script: "train.py",
          arguments: ["--epochs", 2000],
          computeTarget: "local",
          environment: env,
        }),
      );
      const lines: string[] = [];
      await run.waitForCompletion({ showOutput: true, output: (l) => lines.push(l) });
      expect(run.status).toBe("completed");
      expect(lines).toContain("trained w=2.000 b=1.000");
      expect(lines.some((l) => l.startsWith("[mlenv] environment tiny-regression version 1"))).toBe(true);

      const used = await run.getEnvironment();
      expect([used.name, used.version, used.definitionHash]).toEqual([
        "tiny-regression",
        1,
        env.definitionHash,
      ]);
      expect(used.environment.name).toBe("tiny-regression");
      const metrics = await run.getMetrics();
      expect(metrics.loss).toHaveLength(20);
      expect((metrics.loss as number[])[19]).toBeLessThan((metrics.loss as number[])[0]!);
      expect(run.getFileNames()).toEqual(["outputs/model.json"]);

      const model = await run.registerModel("tiny-regression-model", "outputs/model.json");
      expect([model.version, model.info.runId, model.info.files.map((f) => f.path)]).toEqual([
        1,
        run.id,
        ["model.json"],
      ]);
      expect((await run.registerModel("tiny-regression-model", "outputs/model.json")).version).toBe(1);

      const service = await deploy(ws, {
        name: "tiny-regression",
        models: [model],
        inferenceConfig: new InferenceConfig({
          entryScript: "score.py",
          sourceDirectory: join(t.path, "serve"),
          environment: env,
        }),
        deploymentConfig: { cpuCores: 1, memoryGb: 1 },
      });
      await service.waitForDeployment({ timeoutMs: 120_000 });
      expect(service.info.environment).toMatchObject({
        name: "tiny-regression",
        version: 1,
        imageKey: used.imageKey,
      });
      const score = (await service.run({ data: [10, 0.5] })) as { predictions: number[] };
      expect(score.predictions[0]).toBeCloseTo(21, 2);
      expect(score.predictions[1]).toBeCloseTo(2, 2);
      // plain HTTP too
      const http = await fetch(service.scoringUri!, {
        method: "POST",
        headers: { authorization: `Bearer ${ws.token}` },
        body: JSON.stringify({ data: [1] }),
      });
      expect(((await http.json()) as { predictions: number[] }).predictions[0]).toBeCloseTo(3, 2);

      expect((await Webservice.list(ws)).map((s) => s.name)).toEqual(["tiny-regression"]);
      expect((await Run.list(ws, { experiment: "tiny" })).map((r) => r.id)).toEqual([run.id]);
      expect((await Model.list(ws)).map((m) => `${m.name}:${m.version}`)).toEqual([
        "tiny-regression-model:1",
      ]);
      await service.delete();
      expect(await Webservice.list(ws)).toEqual([]);
    }, 240_000);

    it("a failing run raises E_RUN_FAILED with its exit code; raiseOnError: false returns it", async () => {
      writeFileSync(join(t.path, "train", "bad.py"), "import sys\nprint('oops')\nsys.exit(4)\n");
      const run = await new Experiment(ws, "tiny").submit(
        new ScriptRunConfig({
          sourceDirectory: join(t.path, "train"),
          script: "bad.py",
          environment: "tiny-regression:1",
        }),
      );
      let err: unknown;
      try {
        await run.waitForCompletion();
      } catch (e) {
        err = e;
      }
      expect(isMlenvError(err, "E_RUN_FAILED")).toBe(true);
      expect((err as Error).message).toMatch(/ended failed \(exit code 4\).*oops/);
      expect((await run.waitForCompletion({ raiseOnError: false })).info.exitCode).toBe(4);
    }, 60_000);

    it("an Estimator makes an anonymous environment from package lists; a local model file registers too", async () => {
      writeFileSync(join(t.path, "train", "est.py"), "import sys\nprint('estimator', sys.argv[1])\n");
      const run = await new Experiment(ws, "est").submit(
        new Estimator({
          sourceDirectory: join(t.path, "train"),
          entryScript: "est.py",
          scriptParams: ["ok"],
          pipPackages: [],
        }),
      );
      const lines: string[] = [];
      await run.waitForCompletion({ showOutput: true, output: (l) => lines.push(l) });
      expect(lines).toContain("estimator ok");
      expect((await run.getEnvironment()).name).toBe("est-estimator-env");

      const m = await Model.register(ws, {
        name: "uploaded",
        files: [{ path: "m.json", content: new TextEncoder().encode("{}") }],
      });
      expect([m.name, m.version, m.created]).toEqual(["uploaded", 1, true]);
    }, 60_000);
  },
);
