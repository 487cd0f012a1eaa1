import { createServer, type Server } from "node:http";
import { type EnvironmentDefinition, parseDefinition, pipEntries, renderDockerBuild } from "@mlenv/core";
import { type BuiltWheel, baseImageCpu, buildWheel, skipWithout, uniqueTag } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CountingDocker } from "../../test/countingDocker";
import { type BuildLogLine, registryManifestDigest } from "../docker/index";
import { IMAGE_LABEL_KEY, ImageBuilder, type RenderBuildContext } from "./index";

const reason = await imageBuildsMissing();
const enc = (s: string) => new TextEncoder().encode(s);
const run = uniqueTag();

/** Serve wheels as a pip --find-links page on 127.0.0.1. */
async function serveWheels(wheels: BuiltWheel[]): Promise<{ url: string; server: Server }> {
  const byName = new Map(wheels.map((w) => [w.filename, w]));
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "/").slice(1));
    if (name === "") {
      res.setHeader("content-type", "text/html");
      res.end(
        `<html><body>${wheels.map((w) => `<a href="${w.filename}">${w.filename}</a>`).join("\n")}</body></html>`,
      );
      return;
    }
    const wheel = byName.get(name);
    if (!wheel) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader("content-type", "application/octet-stream");
    res.end(Buffer.from(wheel.bytes));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe.skipIf(skipWithout("docker", reason))("ImageBuilder on a real engine and registry", () => {
  const docker = new CountingDocker();
  const pkgA = `mlenv-demo-a-${run}`;
  const pkgB = `mlenv-demo-b-${run}`;
  const modA = pkgA.replace(/-/g, "_");
  const modB = pkgB.replace(/-/g, "_");
  const { registry, images } = useImageBuilds(docker, { pruneDangling: true });
  let index: { url: string; server: Server };
  let builder: ImageBuilder;

  const definition = (pip: string[]): EnvironmentDefinition =>
    parseDefinition({
      name: "builder-test",
      docker: { baseImage: baseImageCpu() },
      python: {
        condaDependencies: { name: "project_environment", dependencies: ["python=3.11", { pip }] },
      },
    });

  // A pip-only renderer over the local base image (which has python3-venv and pip but no conda).
  const render: RenderBuildContext = (def) => {
    const env = def.python.condaDependencies;
    const reqs = env ? pipEntries(env) : [];
    return {
      Dockerfile: enc(
        [
          `FROM ${def.docker.baseImage}`,
          "RUN python3 -m venv /opt/mlenv/env",
          "ENV PATH=/opt/mlenv/env/bin:$PATH",
          "COPY requirements.txt /opt/mlenv/requirements.txt",
          `RUN pip install --disable-pip-version-check --no-index --find-links ${index.url}/ -r /opt/mlenv/requirements.txt`,
          "",
        ].join("\n"),
      ),
      "requirements.txt": enc(`${reqs.join("\n")}\n`),
    };
  };

  beforeAll(async () => {
    index = await serveWheels([
      buildWheel({ name: pkgA, version: "1.0" }),
      buildWheel({ name: pkgB, version: "2.0" }),
      buildWheel({ name: pkgB, version: "2.1" }),
    ]);
    builder = new ImageBuilder({ docker, render, registry: { address: registry.address } });
  });
  afterAll(() => {
    index?.server.close();
  });

  const build = async (def: EnvironmentDefinition, onLog?: (l: BuildLogLine) => void) => {
    const result = await builder.build({ definition: def, ...(onLog ? { onLog } : {}) });
    images.add(result.image);
    return result;
  };

  let first: Awaited<ReturnType<typeof build>>;

  it("builds a definition, streams the log, pushes and records the digest; python imports the packages", async () => {
    const def = definition([`${pkgA}==1.0`, `${pkgB}==2.0`]);
    const lines: BuildLogLine[] = [];
    const before = docker.builds;
    first = await build(def, (l) => lines.push(l));
    expect(docker.builds - before).toBe(1);
    expect(first.source).toBe("built");
    expect(first.cacheHit).toBe(false);
    expect(first.image).toBe(`${registry.address}/mlenv/env_${first.imageKey.split(":")[1]}:latest`);
    expect(first.dockerfile).toContain("pip install");
    expect(lines.some((l) => l.step === 5 && /Successfully installed/.test(l.text))).toBe(true);

    const digest = await registryManifestDigest(
      { address: registry.address },
      `mlenv/env_${first.imageKey.split(":")[1]}`,
      "latest",
    );
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(digest).toBe(first.digest);
    expect((await docker.inspectImage(first.image))?.Config?.Labels?.[IMAGE_LABEL_KEY]).toBe(first.imageKey);

    const out = await docker.run({
      image: first.image,
      cmd: ["python", "-c", `import ${modA}, ${modB}; print(${modA}.VALUE); print(${modB}.VALUE)`],
    });
    expect(out.stderr).toBe("");
    expect(out.stdout.trim().split("\n")).toEqual([`${pkgA} 1.0`, `${pkgB} 2.0`]);
  }, 300_000);

  it("a rebuild is a cache hit with no engine build call, locally and from the registry", async () => {
    const def = definition([`${pkgB}==2.0`, `${pkgA}==1.0`]); // same packages, other order: same key
    const before = docker.builds;
    const again = await build(def);
    expect(again).toMatchObject({
      imageKey: first.imageKey,
      cacheHit: true,
      source: "local",
      digest: first.digest,
    });
    expect(docker.builds).toBe(before);

    await docker.removeImage(first.image, { force: true });
    const fromRegistry = await build(def);
    expect(fromRegistry).toMatchObject({
      cacheHit: true,
      source: "registry",
      digest: first.digest,
      imageId: null,
    });
    expect(docker.builds).toBe(before);
  }, 120_000);

  it("a pip-only change rebuilds reusing the earlier layers (image history)", async () => {
    // the local copy was removed above: rebuild the original to hold its layers
    await docker.buildImage({
      context: render(definition([`${pkgA}==1.0`, `${pkgB}==2.0`]), {}),
      tags: [`mlenv-test/builder-${run}:orig`],
    });
    images.add(`mlenv-test/builder-${run}:orig`);
    const changed = await build(definition([`${pkgA}==1.0`, `${pkgB}==2.1`]));
    expect(changed.source).toBe("built");
    expect(changed.imageKey).not.toBe(first.imageKey);
    const cached = (prefix: string) => changed.steps.find((s) => s.instruction.startsWith(prefix))?.cached;
    expect(cached("RUN python3 -m venv")).toBe(true);
    expect(cached("ENV PATH")).toBe(true);
    expect(cached("COPY requirements.txt")).toBe(false);
    expect(cached("RUN pip install")).toBe(false);

    const oldHistory = await docker.imageHistory(`mlenv-test/builder-${run}:orig`);
    const newHistory = await docker.imageHistory(changed.image);
    const venvLayer = (h: typeof oldHistory) => h.find((e) => e.CreatedBy.includes("python3 -m venv"))?.Id;
    expect(venvLayer(newHistory)).toMatch(/^sha256:/);
    expect(venvLayer(newHistory)).toBe(venvLayer(oldHistory));
    const out = await docker.run({
      image: changed.image,
      cmd: ["python", "-c", `import ${modB}; print(${modB}.VALUE)`],
    });
    expect(out.stdout.trim()).toBe(`${pkgB} 2.1`);
  }, 300_000);

  it("concurrent requests for one key share one build, and each sees the log", async () => {
    const def = definition([`${pkgA}==1.0`]);
    const before = docker.builds;
    const logsA: BuildLogLine[] = [];
    const logsB: BuildLogLine[] = [];
    const [a, b] = await Promise.all([build(def, (l) => logsA.push(l)), build(def, (l) => logsB.push(l))]);
    expect(docker.builds - before).toBe(1);
    expect([a.coalesced, b.coalesced].sort()).toEqual([false, true]);
    expect(a.imageId).toBe(b.imageId);
    expect(a.digest).toBe(b.digest);
    expect(logsB.map((l) => l.text)).toEqual(logsA.map((l) => l.text));
    expect(logsA.some((l) => l.text.includes("Successfully installed"))).toBe(true);
  }, 300_000);

  it("reports the failing step with its output", async () => {
    const def = definition([`${pkgA}==9.9`]);
    const err = await build(def).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_DOCKER_BUILD_FAILED" });
    const e = err as { step: { index: number; instruction: string; output: string }; message: string };
    expect(e.step.index).toBe(5);
    expect(e.step.instruction).toContain("pip install");
    expect(e.step.output).toMatch(/No matching distribution found for mlenv-demo-a/i);
    expect(e.message).toContain("step 5/");
  }, 300_000);

  it("builds with core's rendered Dockerfile by default: a user-managed environment runs its interpreter", async () => {
    const local = new ImageBuilder({ docker });
    const def = parseDefinition({
      name: "core-rendered",
      description: run,
      docker: { baseImage: baseImageCpu() },
      python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      // part of the image key, so every test run gets its own image
      platforms: ["linux-64"],
      spark: { repositories: [`https://example.invalid/${run}`] },
    });
    const result = await local.build({ definition: def });
    images.add(result.image);
    expect(result.source).toBe("built");
    expect(result.imageKey).toBe(renderDockerBuild(def).imageKey);
    expect(result.image).toBe(`mlenv/env_${result.imageKey.split(":")[1]}:latest`);
    expect(result.digest).toBeNull();
    expect(result.dockerfile).toContain(`FROM ${baseImageCpu()}`);
    const labels = (await docker.inspectImage(result.image))?.Config?.Labels ?? {};
    expect(labels[IMAGE_LABEL_KEY]).toBe(result.imageKey);
    const out = await docker.run({
      image: result.image,
      cmd: ["sh", "-c", 'exec "$MLENV_PYTHON" -c "import sys; print(sys.executable)"'],
    });
    expect(out.stdout.trim()).toBe("/usr/bin/python3");
  }, 120_000);

  it("reports core's conda step failing on a base image without conda, with its output", async () => {
    const local = new ImageBuilder({ docker });
    const def = parseDefinition({
      name: "core-conda",
      docker: { baseImage: baseImageCpu() },
      python: { condaDependencies: { dependencies: ["python=3.11", `mlenv-missing-${run}=1.0`] } },
    });
    const err = (await local.build({ definition: def }).catch((e: unknown) => e)) as {
      code: string;
      step: { instruction: string; output: string };
    };
    expect(err.code).toBe("E_DOCKER_BUILD_FAILED");
    expect(err.step.instruction).toContain("micromamba create");
    expect(err.step.output).toMatch(/micromamba: (command )?not found/);
  }, 120_000);
});
