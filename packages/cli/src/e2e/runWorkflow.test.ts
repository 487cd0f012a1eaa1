import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startServer } from "@mlenv/server";
import {
  baseImageCpu,
  dockerAvailable,
  LINEAR_SCORE_PY,
  makeTempDir,
  skipWithout,
  startTestServer,
  type TestServer,
  venvMissing,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";
import { runOnTerminal, runThroughPipes, scriptMissing } from "./cliProcess";

const TRAIN = `
import json, os, sys
import mlenv_run
epochs = int(sys.argv[sys.argv.index("--epochs") + 1])
data = [(1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]
w, b = 0.0, 0.0
for epoch in range(epochs):
    gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - 0.05 * gw, b - 0.05 * gb
    if epoch % 500 == 0:
        mlenv_run.log("loss", sum((w * x + b - y) ** 2 for x, y in data) / len(data))
os.makedirs("outputs", exist_ok=True)
json.dump({"w": w, "b": b}, open("outputs/model.json", "w"))
print("trained w=%.2f b=%.2f" % (w, b))
`;

/**
 * A real server and a working folder with train/train.py and serve/score.py, for the CLI run in
 * process against it; `ok` runs a command and expects exit code 0.
 */
function useCliServer(prefix: string, start: Parameters<typeof startTestServer>[0]) {
  const fx = {
    t: makeTempDir(prefix),
    server: undefined as TestServer | undefined,
    env: {} as Record<string, string>,
    mlenv: (...argv: string[]) => runInProcess(argv, { cwd: fx.t.path, env: fx.env }),
    ok: async (...argv: string[]) => {
      const r = await fx.mlenv(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
      return r;
    },
  };
  beforeAll(async () => {
    const server = await startTestServer(start);
    fx.server = server;
    fx.env = { MLENV_URL: server.url, MLENV_TOKEN: server.token, MLENV_CONFIG: join(fx.t.path, "none.json") };
    mkdirSync(join(fx.t.path, "train"));
    mkdirSync(join(fx.t.path, "serve"));
    writeFileSync(join(fx.t.path, "train", "train.py"), TRAIN);
    writeFileSync(join(fx.t.path, "serve", "score.py"), LINEAR_SCORE_PY);
  });
  afterAll(async () => {
    await fx.server?.stop();
    fx.t.cleanup();
  });
  return fx;
}

/** `mlenv run submit` of train/SCRIPT in environment ENV, then the other arguments */
const submit = (script: string, env: string, ...rest: string[]) => [
  "run",
  "submit",
  "--source-dir",
  "train",
  "--script",
  script,
  "--env",
  env,
  ...rest,
];

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "mlenv run / model / service (reference sections 4 and 6)",
  () => {
    const { t, mlenv, ok } = useCliServer("mlenv-cli-runs-", startServer);
    beforeAll(() => {
      writeFileSync(
        join(t.path, "train", "fail.py"),
        "import sys\nprint('bad data', file=sys.stderr)\nsys.exit(2)\n",
      );
      writeFileSync(
        join(t.path, "train", "sleep.py"),
        "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\n",
      );
    });

    it("trains, registers the output as a model, deploys it in the same environment and scores it", async () => {
      await ok("env", "scaffold", "-n", "cli-train", "-d", "envdir");
      expect((await ok("env", "register", "-d", "envdir")).stdout).toMatch(
        /^Registered cli-train version 1 /,
      );

      const trained = await ok(...submit("train.py", "cli-train", "--wait", "--", "--epochs", "3000"));
      expect(trained.stdout).toContain("trained w=2.00 b=1.00");
      expect(trained.stdout).toMatch(/\[mlenv\] environment cli-train version 1 /);
      const id = /Submitted run ([0-9a-f-]{36}) \(train #1\)/.exec(trained.stderr)?.[1];
      expect(id, trained.stderr).toBeDefined();

      const shown = await ok("run", "show", id!);
      expect(shown.stdout).toContain("status: completed (exit code 0)");
      expect(shown.stdout).toMatch(/environment: cli-train version 1 \(mlenv1-sha256:[0-9a-f]{64}\)/);
      expect(shown.stdout).toMatch(/metric loss: .* \(6 values\)/);
      expect(shown.stdout).toContain("output: outputs/model.json");
      const json = JSON.parse((await ok("run", "show", id!, "--json")).stdout);
      expect(json.environment).toMatchObject({ name: "cli-train", version: 1 });
      expect(json.environment.definition.name).toBe("cli-train");
      expect((await ok("run", "list")).stdout).toMatch(
        new RegExp(`^${id}\\s+train #1\\s+completed\\s+0\\s+cli-train:1`, "m"),
      );
      expect((await ok("run", "logs", id!)).stdout).toContain("trained w=2.00");
      await ok("run", "download", id!, "outputs/model.json", "-o", "model-copy.json");
      expect(JSON.parse(readFileSync(join(t.path, "model-copy.json"), "utf8")).w).toBeCloseTo(2, 2);

      expect(
        (await ok("model", "register", "-n", "linear", "--run", id!, "--path", "outputs/model.json")).stdout,
      ).toBe("Registered: model linear version 1 (1 file(s))\n");
      expect(
        (await ok("model", "register", "-n", "linear", "--run", id!, "--path", "outputs/model.json")).stdout,
      ).toMatch(/^Unchanged: model linear version 1/);
      expect((await ok("model", "list")).stdout).toMatch(
        new RegExp(`^linear\\s+1\\s+model.json\\s+${id}`, "m"),
      );

      const deployed = await ok(
        "service",
        "deploy",
        "-n",
        "linear-svc",
        "--model",
        "linear:1",
        "--entry-script",
        "score.py",
        "--source-dir",
        "serve",
        "--env",
        "cli-train:1",
        "--cpu-cores",
        "0.5",
        "--memory-gb",
        "0.25",
      );
      expect(deployed.stdout).toMatch(
        /^Service linear-svc is healthy: model linear:1, environment cli-train:1\nlimits: 0\.5 CPU cores, 0\.25 GB memory \(recorded, not enforced on this target\)\nscoring URI: http:\/\/127\.0\.0\.1:\d+\/api\/v1\/services\/linear-svc\/score\n$/,
      );
      const relayed = JSON.parse(
        (await ok("service", "score", "linear-svc", "--via-server", "--data", '{"data": [10]}')).stdout,
      );
      expect(relayed.predictions[0]).toBeCloseTo(21, 1);
      const scored = JSON.parse(
        (await ok("service", "score", "linear-svc", "--data", '{"data": [10]}')).stdout,
      );
      expect(scored.predictions[0]).toBeCloseTo(21, 1);
      expect((await ok("service", "list")).stdout).toMatch(
        /^linear-svc\s+healthy\s+linear:1\s+cli-train:1\s+0\s+http:\/\/127\.0\.0\.1:/m,
      );
      expect((await ok("service", "logs", "linear-svc")).stdout).toContain(
        "[mlenv] healthy at http://127.0.0.1:",
      );
      expect((await ok("service", "delete", "linear-svc")).stdout).toBe("Deleted service linear-svc\n");
      expect((await ok("service", "list", "--json")).stdout).toBe('{\n  "items": []\n}\n');
    }, 240_000);

    it("a run without an environment registers the default one automatically", async () => {
      const r = await ok(
        "run",
        "submit",
        "--source-dir",
        "train",
        "--script",
        "train.py",
        "-e",
        "auto",
        "--wait",
        "--json",
        "--",
        "--epochs",
        "10",
      );
      expect(JSON.parse(r.stdout)).toMatchObject({
        status: "completed",
        environment: { name: "default-run-environment", version: 1 },
      });
      expect((await ok("env", "list")).stdout).toMatch(/^default-run-environment\s+1\s/m);
    }, 120_000);

    it("a failing run exits 1 with its exit code on one line; cancel stops a running one", async () => {
      const failed = await mlenv(...submit("fail.py", "cli-train", "--wait"));
      expect(failed.code).toBe(1);
      expect(failed.stdout).toContain("bad data");
      expect(failed.stderr).toMatch(
        /error: Run [0-9a-f-]{36} ended failed with exit code 2 \[E_SCRIPT_FAILED\]\n$/,
      );

      const sub = await ok(...submit("sleep.py", "cli-train"));
      const id = /^Submitted run ([0-9a-f-]{36})/.exec(sub.stdout)?.[1];
      expect(sub.stdout).toContain(`Follow it with: mlenv run logs -f ${id}`);
      const end = Date.now() + 30_000;
      while (!(await ok("run", "logs", id!)).stdout.includes("sleeping") && Date.now() < end)
        await new Promise((r) => setTimeout(r, 100));
      expect((await ok("run", "cancel", id!)).stdout).toBe(`Run ${id} is canceled\n`);
      expect((await ok("run", "logs", "-f", id!)).stdout).toContain("sleeping");
      // --json: one JSON document per line, the line's seq/stream/text (the stream's events)
      const jsonLines = (await ok("run", "logs", "-f", "--json", id!)).stdout.trim().split("\n");
      const parsed = jsonLines.map((l) => JSON.parse(l) as { seq: number; stream: string; text: string });
      expect(parsed.map((l) => l.seq)).toEqual(parsed.map((_, i) => i + 1));
      expect(parsed.some((l) => l.text.includes("sleeping"))).toBe(true);

      const bad = await mlenv(...submit("train.py", "no such;env"));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toMatch(/expected NAME or NAME:VERSION/);
    }, 120_000);
  },
);

const dockerReason = await dockerAvailable();

describe.skipIf(skipWithout("docker", dockerReason))("mlenv run / service on the docker target", () => {
  // the local base image has python3-venv and no conda: the server builds venv images on it
  const cli = useCliServer("mlenv-cli-docker-", (o) =>
    startServer({ ...o, builds: { condaExecutable: null } }),
  );
  const { t, mlenv, ok } = cli;
  beforeAll(() => {
    writeFileSync(
      join(t.path, "docker-env.json"),
      JSON.stringify({ name: "cli-docker", docker: { baseImage: baseImageCpu() } }),
    );
  });

  it("trains in a container of the environment's image and serves the model from one", async () => {
    await ok("env", "register", "-d", "docker-env.json");
    const trained = await ok(
      ...submit("train.py", "cli-docker", "--target", "docker", "--wait", "--", "--epochs", "3000"),
    );
    expect(trained.stdout).toContain("trained w=2.00 b=1.00");
    expect(trained.stdout).toMatch(/\[mlenv\] running in container [0-9a-f]{12} \(no network\)/);
    const id = /Submitted run ([0-9a-f-]{36})/.exec(trained.stderr)?.[1];
    await ok("model", "register", "-n", "docker-linear", "--run", id!, "--path", "outputs/model.json");
    const deployed = await ok(
      "service",
      "deploy",
      "-n",
      "docker-linear",
      "--model",
      "docker-linear",
      "--entry-script",
      "score.py",
      "--source-dir",
      "serve",
      "--env",
      "cli-docker",
      "--target",
      "docker",
      "--memory-gb",
      "0.5",
    );
    expect(deployed.stdout).toMatch(/^Service docker-linear is healthy/);
    expect(deployed.stdout).toContain("limits: - CPU cores, 0.5 GB memory (enforced)");
    const scored = JSON.parse(
      (await ok("service", "score", "docker-linear", "--data", '{"data": [10]}')).stdout,
    );
    expect(scored.predictions[0]).toBeCloseTo(21, 1);
    await ok("service", "delete", "docker-linear");
  }, 900_000);

  it("a run whose image fails to build: run show prints the error's own lines (terminal and pipe)", async () => {
    // pip finds nothing (--no-index): the build fails at its pip step, with that step's output
    writeFileSync(
      join(t.path, "broken-env.json"),
      JSON.stringify({
        name: "cli-broken",
        docker: { baseImage: baseImageCpu() },
        python: {
          condaDependencies: {
            dependencies: ["python=3.11", { pip: ["--no-index", "mlenv-no-such-package==1.0"] }],
          },
        },
      }),
    );
    await ok("env", "register", "-d", "broken-env.json", "--no-lock");
    const failed = await mlenv(...submit("train.py", "cli-broken", "--target", "docker", "--wait"));
    expect(failed.code).toBe(1);
    const id = /Submitted run ([0-9a-f-]{36})/.exec(failed.stderr)?.[1] as string;
    expect(failed.stdout).not.toContain("\\u000a");
    const info = JSON.parse((await ok("run", "show", id, "--json")).stdout) as {
      number: number;
      error: { code: string; message: string };
      environment: { definitionHash: string };
    };
    const [first, ...rest] = info.error.message.trim().split("\n");
    expect(rest.length).toBeGreaterThan(1);
    expect(info.error.message).toContain("No matching distribution found for mlenv-no-such-package==1.0");
    const expected = [
      `run: ${id}`,
      `experiment: train #${info.number}`,
      "status: failed",
      `error: ${first} [${info.error.code}]`,
      ...rest.map((l) => `  ${l}`),
      `environment: cli-broken version 1 (${info.environment.definitionHash})`,
      "script: train.py",
      "",
    ].join("\n");
    const runEnv = { ...cli.env, HOME: t.path };
    const piped = await runThroughPipes(["run", "show", id], { cwd: t.path, env: runEnv });
    expect(piped).toEqual({ code: 0, stdout: expected, stderr: "" });
    if (!skipWithout("script (pseudo-terminal)", scriptMissing())) {
      const tty = await runOnTerminal(["run", "show", id], { cwd: t.path, env: runEnv });
      expect(tty.code).toBe(0);
      expect(tty.screen).toBe(expected);
    }
  }, 900_000);
});
