import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import {
  baseImageCpu,
  buildWheel,
  dockerAvailable,
  makeTempDir,
  type PypiIndexServer,
  servePypiIndex,
  skipWithout,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ImageLabels, renderDockerBuild } from "../src/render/dockerfile";
import { parseDefinition } from "../src/spec/definition";

/** Run the docker CLI without blocking the event loop (the test's package index must keep serving). */
function docker(
  args: string[],
  options: { input?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("docker", args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString("utf8");
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `docker ${args.slice(0, 2).join(" ")} failed (${code}): ${`${stdout}\n${stderr}`.slice(-2000)}`,
          ),
        );
    });
    child.stdin.end(options.input ?? "");
  });
}

const reason = await dockerAvailable();
const run = `${process.pid}-${Date.now()}`;

describe.skipIf(skipWithout("docker", reason))("rendered builds on a real Docker engine", () => {
  let index: PypiIndexServer;
  const tags: string[] = [];
  const dirs: (() => void)[] = [];

  beforeAll(async () => {
    const wheel = (version: string) => buildWheel({ name: "mlenv-render-probe", version });
    index = await servePypiIndex({
      projects: { "mlenv-render-probe": [{ wheel: wheel("1.0") }, { wheel: wheel("2.0") }] },
    });
  });
  afterAll(async () => {
    await index?.close();
    for (const t of tags) spawnSync("docker", ["rmi", "-f", t]);
    for (const cleanup of dirs) cleanup();
  });

  async function build(def: ReturnType<typeof parseDefinition>, tag: string) {
    const rendered = renderDockerBuild(def, { condaExecutable: null });
    const dir = makeTempDir("mlenv-render-");
    dirs.push(dir.cleanup);
    for (const [name, bytes] of Object.entries(rendered.context)) {
      mkdirSync(dirname(join(dir.path, name)), { recursive: true });
      writeFileSync(join(dir.path, name), bytes);
    }
    tags.push(tag);
    const out = await docker(["build", "--network", "host", "-t", tag, dir.path]);
    return { rendered, log: out.stdout + out.stderr };
  }

  it("builds the venv + pip layers, labels the image and reuses layers on a pip-only change", async () => {
    const make = (v: string) =>
      parseDefinition({
        name: "render-e2e",
        environmentVariables: { NOT_BAKED: "1" },
        docker: { baseImage: baseImageCpu() },
        python: {
          condaDependencies: {
            dependencies: ["python=3.11", { pip: [`--index-url ${index.url}`, `mlenv-render-probe==${v}`] }],
            variables: { MLENV_PROBE: 'it\'s $HOME "quoted"' },
          },
        },
      });
    const first = await build(make("1.0"), `mlenv-test/render-${run}:a`);
    const labels = JSON.parse(
      (await docker(["inspect", "--format", "{{json .Config.Labels}}", `mlenv-test/render-${run}:a`])).stdout,
    );
    expect(labels[ImageLabels.imageKey]).toBe(first.rendered.imageKey);
    expect(labels[ImageLabels.definitionHash]).toBe(first.rendered.definitionHash);
    const out = (
      await docker([
        "run",
        "--rm",
        "--network",
        "host",
        `mlenv-test/render-${run}:a`,
        "python",
        "-c",
        "import os, sys, mlenv_render_probe as m; print(m.VALUE); print(sys.prefix); print(os.environ['MLENV_PROBE']); print(os.environ.get('NOT_BAKED'))",
      ])
    ).stdout.trim();
    expect(out.split("\n")).toEqual([
      "mlenv-render-probe 1.0",
      "/opt/mlenv/venv",
      'it\'s $HOME "quoted"',
      "None",
    ]);

    // A pip-only change reuses the base and venv layers.
    const second = await build(make("2.0"), `mlenv-test/render-${run}:b`);
    expect(second.rendered.imageKey).not.toBe(first.rendered.imageKey);
    expect(second.log).toMatch(/RUN python3 -m venv \/opt\/mlenv\/venv\s*\n\s*---> Using cache/);
    const v2 = await docker([
      "run",
      "--rm",
      "--network",
      "host",
      `mlenv-test/render-${run}:b`,
      "python",
      "-c",
      "import mlenv_render_probe as m; print(m.VALUE)",
    ]);
    expect(v2.stdout.trim()).toBe("mlenv-render-probe 2.0");
  }, 400_000);

  it("runs a user-managed definition with its own interpreter", async () => {
    const def = parseDefinition({
      name: "render-um",
      docker: { baseImage: baseImageCpu() },
      python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
    });
    await build(def, `mlenv-test/render-${run}:um`);
    // The image's CMD is the interpreter: it reads this script from stdin.
    const r = await docker(["run", "--rm", "-i", "--network", "host", `mlenv-test/render-${run}:um`], {
      input: "import sys; print(sys.executable)\n",
    });
    expect(r.stdout.trim()).toBe("/usr/bin/python3");
  }, 200_000);
});
