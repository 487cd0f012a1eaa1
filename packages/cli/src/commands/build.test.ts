import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Environment, Workspace } from "@mlenv/sdk";
import { DockerClient, type RunningServer, startServer } from "@mlenv/server";
import { baseImageCpu, skipWithout, uniqueTag, wheelProjects } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const reason = await imageBuildsMissing();
const tag = uniqueTag();

describe.skipIf(skipWithout("docker", reason))("mlenv env build / mlenv env image", () => {
  const t = useTempDir("mlenv-cli-build-");
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  const pkg = `mlenv-cli-build-${tag}`;
  const docker = new DockerClient();
  const { registry, index, images } = useImageBuilds(docker, {
    index: () => ({ projects: wheelProjects({ [pkg]: ["1.0"] }) }),
    pruneDangling: true,
  });
  let srv: RunningServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    srv = await startServer({
      dataDir: join(t.path, "data"),
      bootstrapToken: admin,
      builds: {
        registry: registry.address,
        baseImageCpu: baseImageCpu(),
        condaExecutable: null,
        pollMs: 100,
      },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    env = { MLENV_URL: srv.url, MLENV_TOKEN: admin, MLENV_CONFIG: join(t.path, "none.json") };
    const ws = new Workspace({ url: srv.url, token: admin });
    for (const [name, pin] of [
      [`ok-${tag}`, `${pkg}==1.0`],
      [`broken-${tag}`, `${pkg}==9.9`],
    ] as const) {
      await Environment.fromDefinition({
        name,
        docker: { baseImage: baseImageCpu() },
        python: {
          condaDependencies: { dependencies: ["python=3.11", { pip: [`--index-url ${index.url}/`, pin] }] },
        },
      }).register(ws);
    }
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  const cli = (argv: string[]) => runInProcess(argv, { cwd: t.path, env });

  it("builds with --show-output, shows the image, and rebuilds as a cache hit", async () => {
    const built = await cli(["env", "build", "-n", `ok-${tag}`, "--show-output"]);
    expect(built.code, built.stderr).toBe(0);
    expect(built.stderr).toMatch(/^build \S+ queued: 127\.0\.0\.1:\d+\/mlenv\/env_[0-9a-f]{64}:latest/);
    expect(built.stdout).toContain("Successfully installed");
    expect(built.stdout).toMatch(/^status: +succeeded$/m);
    expect(built.stdout).toMatch(/^cacheHit: +false$/m);
    const image = /^image: +(\S+)$/m.exec(built.stdout)?.[1];
    expect(image).toBeDefined();
    images.add(image!);

    const shown = await cli(["env", "image", "-n", `ok-${tag}`]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^exists: +true$/m);
    expect(shown.stdout).toContain(`repository:      ${image!.replace(/:latest$/, "")}`);
    expect(shown.stdout).toContain(`registry:        ${registry.address}`);
    expect(shown.stdout).toMatch(/^digest: +sha256:[0-9a-f]{64}$/m);
    expect(shown.stdout).toContain(`  FROM ${baseImageCpu()}`);

    const again = await cli(["env", "build", "-n", `ok-${tag}`, "--json", "--show-output"]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("cache hit: "); // the log goes to stderr next to --json
    const job = JSON.parse(again.stdout) as {
      status: string;
      outcome: { cacheHit: boolean; source: string };
    };
    expect(job.status).toBe("succeeded");
    expect(job.outcome).toMatchObject({ cacheHit: true, source: "local" });
  }, 300_000);

  it("a failed build names the failed step and shows its output", async () => {
    const r = await cli(["env", "build", "-n", `broken-${tag}`, "--wait"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`No matching distribution found for ${pkg}==9.9`);
    expect(r.stderr.trimEnd().split("\n").at(-1)).toMatch(
      /^error: build \S+ ended failed at step \d+\/\d+ \(RUN .*pip install.*\): .+ \[E_DOCKER_BUILD_FAILED\]$/,
    );
    expect(r.stdout).toMatch(/^failed step: +\d+\/\d+ RUN /m);
    const image = await cli(["env", "image", "-n", `broken-${tag}`, "--json"]);
    expect(JSON.parse(image.stdout)).toMatchObject({ exists: false, digest: null });
  }, 300_000);
});
