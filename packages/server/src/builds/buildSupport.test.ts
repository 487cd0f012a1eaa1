import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { defaultCoreConfig, parseDefinition } from "@mlenv/core";
import { buildEnvironment, Workspace } from "@mlenv/sdk";
import { makeTempDir } from "@mlenv/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger";
import { startServer } from "../server";
import { serverCoreConfig } from "./buildSupport";
import { environmentImageKey } from "./imageKey";
import { openBuildJobStore } from "./jobStore";

const token = () => `mlenv_${randomBytes(32).toString("base64url")}`;

describe("serverCoreConfig", () => {
  it("names the image layout its builder renders, so one definition gets one key per layout", () => {
    const prefix = serverCoreConfig({ baseImageCpu: "mine/cpu:1" });
    const venv = serverCoreConfig({ baseImageCpu: "mine/cpu:1", condaExecutable: null });
    const mamba = serverCoreConfig({ baseImageCpu: "mine/cpu:1", condaExecutable: "micromamba" });
    expect([prefix, venv, mamba].map((c) => c.config.imageLayout)).toEqual([
      "mlenv-prefix",
      "venv",
      "conda-in-base",
    ]);
    const def = parseDefinition({
      name: "k",
      python: { condaDependencies: { dependencies: ["python=3.11"] } },
    });
    const keys = [prefix, venv, mamba].map((c) => environmentImageKey({ definition: def, config: c.config }));
    expect(new Set(keys).size).toBe(3);
  });

  it("takes base images and the conda executable from options, else plain images and mlenv's conda prefix", () => {
    const given = serverCoreConfig({
      baseImageCpu: "local/cpu:1",
      baseImageGpu: "local/gpu:1",
      condaExecutable: null,
    });
    expect(given.config.baseImages).toEqual({ cpu: "local/cpu:1", gpu: "local/gpu:1" });
    expect(given.condaExecutable).toBeNull();
    expect(given.condaPrefix).toBe(false);
    const defaults = serverCoreConfig({ baseImageCpu: "mine/cpu:2" });
    expect(defaults.config.baseImages.cpu).toBe("mine/cpu:2");
    // the default: mlenv installs the conda prefix, on plain slim base images without conda
    expect(defaults.condaPrefix).toBe(true);
    expect(serverCoreConfig().config.baseImages).toEqual({
      cpu: "debian:bookworm-slim",
      gpu: "nvidia/cuda:12.1.1-base-ubuntu22.04",
    });
    // micromamba in the base image, for those who ask for it, on core's micromamba images
    const micromamba = serverCoreConfig({ condaExecutable: "micromamba" });
    expect(micromamba.condaPrefix).toBe(false);
    expect(micromamba.condaExecutable).toBe("micromamba");
    expect(micromamba.config.baseImages.cpu).toMatch(/^mambaorg\/micromamba:/);
    expect(() => serverCoreConfig({ baseImageCpu: "bad image; rm -rf /" })).toThrow(
      /baseImageCpu.*mlenv\/base-cpu:bookworm/,
    );
  });
});

describe("a server without a Docker engine", () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  it("starts, fails builds with a clear error, parses with its base image, and recovers jobs on restart", async () => {
    const dir = makeTempDir("mlenv-builds-server-");
    stops.push(async () => dir.cleanup());
    const admin = token();
    const builds = {
      dockerHost: `unix://${join(dir.path, "no-engine.sock")}`,
      baseImageCpu: "local/base-cpu:test",
      pollMs: 50,
    };
    const start = () =>
      startServer({ dataDir: dir.path, bootstrapToken: admin, logger: silentLogger, builds });
    let srv = await start();
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${srv.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      });

    // a definition without a base image keeps core's default (so its definitionHash is the
    // client's), which builds on the server's CPU default (the build's image key below)
    const reg = await api("/api/v1/environments", {
      method: "POST",
      body: JSON.stringify({ definition: { name: "no-engine" } }),
    });
    expect(reg.status).toBe(201);
    const got = (await (await api("/api/v1/environments/no-engine")).json()) as {
      definition: { docker: { baseImage: string } };
    };
    expect(got.definition.docker.baseImage).toBe(defaultCoreConfig.baseImages.cpu);
    const details = (await (await api("/api/v1/environments/no-engine")).json()) as { imageKey: string };
    expect(details.imageKey).toBe(
      environmentImageKey({
        definition: parseDefinition({ name: "no-engine" }),
        config: serverCoreConfig(builds).config,
      }),
    );

    const submitted = await api("/api/v1/environments/no-engine/builds", { method: "POST", body: "{}" });
    expect(submitted.status).toBe(202);
    const { job } = (await submitted.json()) as { job: { id: string; image: string } };
    let final: { status: string; error: { code: string; message: string } | null } | undefined;
    for (let i = 0; i < 100; i++) {
      final = (await (await api(`/api/v1/builds/${job.id}`)).json()) as typeof final;
      if (final?.status === "failed") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(final?.status).toBe("failed");
    expect(final?.error?.code).toBe("E_DOCKER_UNREACHABLE");
    expect(final?.error?.message).toContain("no-engine.sock");

    // through the SDK: the streamed log ends with the failure, which waitForCompletion raises
    const sdkBuild = await buildEnvironment(new Workspace({ url: srv.url, token: admin }), "no-engine");
    expect(sdkBuild.id).not.toBe(job.id);
    const lines: string[] = [];
    const err = await sdkBuild
      .waitForCompletion({ showOutput: true, output: (l) => lines.push(l) })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_BUILD_FAILED" });
    expect((err as Error).message).toContain("could not reach the Docker engine");
    expect(lines[0]).toBe(`build job ${sdkBuild.id}: image ${sdkBuild.info.image}`);
    expect(lines.at(-1)).toMatch(/^failed: could not reach the Docker engine/);
    expect(sdkBuild.status).toBe("failed");
    await srv.close();

    // An earlier process left one job queued and one running: a restart runs the first and
    // fails the second as interrupted.
    const jobs = openBuildJobStore({ sqliteFile: join(dir.path, "mlenv.db") });
    const recorded = (await jobs.get(job.id))!;
    const request = recorded.request;
    const queued = await jobs.enqueue({
      workspaceId: "w",
      imageKey: `mlenv1-sha256:${"1".repeat(64)}`,
      image: "x:latest",
      request,
    });
    const running = await jobs.enqueue({
      workspaceId: "w",
      imageKey: `mlenv1-sha256:${"2".repeat(64)}`,
      image: "y:latest",
      request,
    });
    expect((await jobs.claimNext())?.id).toBe(queued.job.id);
    // claimNext took the older job; make the newer one the left-over running job instead
    await jobs.finish(queued.job.id, "failed", { error: { code: "X", message: "x" } });
    // built as recorded: the key and image the first submission recorded
    const requeued = await jobs.enqueue({
      workspaceId: recorded.workspaceId,
      imageKey: recorded.imageKey,
      image: recorded.image,
      request,
    });
    expect((await jobs.claimNext())?.id).toBe(running.job.id);
    await jobs.close();

    srv = await start();
    const after = openBuildJobStore({ sqliteFile: join(dir.path, "mlenv.db") });
    stops.push(() => after.close());
    let a = await after.get(requeued.job.id);
    for (let i = 0; i < 100 && a?.status !== "failed"; i++) {
      await new Promise((r) => setTimeout(r, 50));
      a = await after.get(requeued.job.id);
    }
    expect(a?.error?.code).toBe("E_DOCKER_UNREACHABLE");
    expect((await after.get(running.job.id))?.error?.code).toBe("E_BUILD_INTERRUPTED");
    await srv.close();
  });
});
