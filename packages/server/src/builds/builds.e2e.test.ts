import { randomBytes } from "node:crypto";
import { addPrivatePipWheel, buildEnvironment, Environment, type ImageBuild, Workspace } from "@mlenv/sdk";
import { baseImageCpu, buildWheel, skipWithout, uniqueTag, wheelProjects } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerClient } from "../docker/index";
import { silentLogger } from "../logger";
import { type RunningServer, startServer } from "../server";

const reason = await imageBuildsMissing();
const run = uniqueTag();

/**
 * Issue 7's done-when test: a real server, a real engine, a real registry, host networking.
 * An environment with a private wheel (uploaded to the server) and a pip package from a
 * test-served index behind a workspace secret is built through the API and the SDK.
 */
describe.skipIf(skipWithout("docker", reason))("image builds end to end through the server", () => {
  const docker = new DockerClient();
  const pub = `mlenv-e2e-pub-${run}`;
  const priv = `mlenv-e2e-priv-${run}`;
  const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
  const secretValue = `idx-${randomBytes(12).toString("hex")}`;
  const dir = useTempDir("mlenv-builds-e2e-");
  const { registry, index, images } = useImageBuilds(docker, {
    index: () => ({ projects: wheelProjects({ [pub]: ["1.0", "1.1"] }) }),
  });
  let srv: RunningServer;
  let ws: Workspace;

  beforeAll(async () => {
    srv = await startServer({
      dataDir: dir.path,
      bootstrapToken: admin,
      logger: silentLogger,
      builds: {
        registry: registry.address,
        baseImageCpu: baseImageCpu(),
        condaExecutable: null,
        pollMs: 100,
      },
    });
    ws = new Workspace({ url: srv.url, token: admin, timeoutMs: 120_000 });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
  });

  const mod = (n: string) => n.replace(/-/g, "_");
  const importIn = async (image: string) =>
    (
      await docker.run({
        image,
        cmd: [
          "sh",
          "-c",
          `exec "$MLENV_PYTHON" -c "import ${mod(pub)}, ${mod(priv)}; print(${mod(pub)}.VALUE)"`,
        ],
      })
    ).stdout.trim();

  it("builds with a private wheel and a secret index, streams the log, caches, reuses layers, coalesces", async () => {
    const wheel = buildWheel({ name: priv, version: "0.1" });
    const reference = await addPrivatePipWheel(ws, { filename: wheel.filename, bytes: wheel.bytes });
    expect(reference).toMatch(/^mlenv\+wheel:\/\/default\//);
    await ws.wheels.setSecret("IDX", secretValue, { allowedHosts: [new URL(index.url).host] });
    const indexUrl = index.url.replace("http://", `http://ci:\${MLENV_SECRET_IDX}@`);
    const definition = (pin: string) => ({
      name: `e2e-${run}`,
      docker: { baseImage: baseImageCpu() },
      python: {
        condaDependencies: {
          dependencies: ["python=3.11", { pip: [`--index-url ${indexUrl}/`, `${pub}==${pin}`, reference] }],
        },
      },
    });

    // register, then two concurrent build requests for one key: one job
    const env = await Environment.fromDefinition(definition("1.0")).register(ws);
    const [first, second] = await Promise.all([env.build(ws), buildEnvironment(ws, env.name)]);
    expect(second.id).toBe(first.id);
    expect([first.coalesced, second.coalesced].sort()).toEqual([false, true]);

    // the SSE log arrives while the build runs
    const lines: string[] = [];
    const build: ImageBuild = await first.waitForCompletion({
      showOutput: true,
      output: (l) => lines.push(l),
    });
    expect(build.status).toBe("succeeded");
    const outcome = build.info.outcome!;
    images.add(outcome.image);
    expect(outcome).toMatchObject({ cacheHit: false, source: "built" });
    expect(outcome.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(lines.some((l) => l.includes(`fetched private wheel ${wheel.filename}`))).toBe(true);
    expect(lines.some((l) => l.includes("Successfully installed"))).toBe(true);
    expect(await importIn(outcome.image)).toBe(`${pub} 1.0`);

    // no credential anywhere: Dockerfile, files in the image, image config and history, stored log
    const stored = (await build.getLogs()).items.map((l) => l.text).join("\n");
    const history = await docker.imageHistory(outcome.image);
    const createdBy = history.map((h) => h.CreatedBy).join("\n");
    const config = JSON.stringify(await docker.inspectImage(outcome.image));
    const files = await docker.run({
      image: outcome.image,
      cmd: [
        "sh",
        "-c",
        // every file the build wrote outside the base system: requirements, helper, site-packages
        "cat /tmp/mlenv/* 2>/dev/null; find /opt/mlenv -name '*.json' -o -name RECORD -o -name '*.txt' | xargs cat 2>/dev/null",
      ],
    });
    expect(files.stdout).toContain(reference); // the COPY'd requirements hold the reference only
    for (const [what, text] of [
      ["Dockerfile", outcome.dockerfile ?? ""],
      ["image files", files.stdout],
      ["image config", config],
      ["image history", createdBy],
      ["stored log", stored],
      ["streamed log", lines.join("\n")],
    ] as const) {
      for (const secret of [admin, secretValue, "sig=", "/signed/"]) {
        expect(text.includes(secret), `${what} holds ${secret.slice(0, 6)}…`).toBe(false);
      }
    }
    // the one-time payload URL the history shows is dead
    const once = /MLENV_PIP_SECRETS_URL=(\S+)/.exec(createdBy)?.[1];
    expect(once).toMatch(/\/build-secrets\/v1\//);
    expect((await fetch(once!)).status).toBe(404);

    // image details as the reference shows them
    const details = await ws.request<Record<string, unknown>>(
      "GET",
      `/api/v1/environments/${env.name}/image`,
    );
    expect(details).toMatchObject({
      exists: true,
      registry: registry.address,
      repository: outcome.image.replace(/:latest$/, ""),
      digest: outcome.digest,
    });
    expect(String(details.dockerfile)).toContain("mlenv_pip.py");

    // the same definition again: a cache hit, no engine build
    const hit = await (await buildEnvironment(ws, env.name)).waitForCompletion();
    expect(hit.id).not.toBe(first.id);
    expect(hit.info.outcome).toMatchObject({ cacheHit: true, source: "local", steps: [], dockerfile: null });
    expect(hit.info.outcome?.imageId).toBe(outcome.imageId);

    // one pip pin changed: a new version whose build reuses the base and venv layers
    const v2 = await Environment.fromDefinition(definition("1.1")).register(ws);
    expect(v2.version).toBe("2");
    const changed = await (await v2.build(ws)).waitForCompletion();
    const out2 = changed.info.outcome!;
    images.add(out2.image);
    expect(out2.source).toBe("built");
    expect(out2.steps.find((s) => s.instruction.includes("-m venv"))?.cached).toBe(true);
    expect(out2.steps.find((s) => s.instruction.includes("mlenv_pip.py"))?.cached).toBe(false);
    const layer = async (image: string) =>
      (await docker.imageHistory(image)).find((h) => h.CreatedBy.includes("-m venv"))?.Id;
    expect(await layer(out2.image)).toBe(await layer(outcome.image));
    expect(await importIn(out2.image)).toBe(`${pub} 1.1`);
  }, 400_000);
});
