import { connect, createServer, type Server, type Socket } from "node:net";
import { baseImageCpu, skipWithout } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import { type BuildLogLine, type DockerBuildError, DockerClient } from "./index";

const reason = await imageBuildsMissing();
const enc = (s: string) => new TextEncoder().encode(s);
const run = `${process.pid}-${Date.now().toString(36)}`;

describe.skipIf(skipWithout("docker", reason))("DockerClient on a real engine", () => {
  const docker = new DockerClient();
  const base = baseImageCpu();
  const { registry, images: created } = useImageBuilds(docker);

  it("pings and reports its version", async () => {
    await docker.ping();
    const v = await docker.version();
    expect(v.ApiVersion).toMatch(/^1\.\d+$/);
    expect(v.Os).toBe("linux");
  });

  it("builds from an in-memory context with labels and build args, streaming the log, and runs python in the image", async () => {
    const tag = `mlenv-test/client-${run}:one`;
    created.add(tag);
    const lines: BuildLogLine[] = [];
    const hello = {
      context: {
        Dockerfile: enc(
          `FROM ${base}\nARG GREETING\nCOPY data/hello.txt /opt/hello.txt\nRUN echo "building $GREETING" && cat /opt/hello.txt\n`,
        ),
        "data/hello.txt": enc("hello from the context\n"),
      },
      tags: [tag],
      labels: { "org.mlenv.test": run },
      buildArgs: { GREETING: "hi there" },
    };
    const result = await docker.buildImage({ ...hello, onLog: (l) => lines.push(l), timeoutMs: 120_000 });
    expect(result.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result.steps.map((s) => s.instruction.split(" ")[0])).toEqual([
      "FROM",
      "ARG",
      "COPY",
      "RUN",
      "LABEL",
    ]);
    const runLines = lines.filter((l) => l.step === 4).map((l) => l.text);
    expect(runLines).toContain("building hi there");
    expect(runLines).toContain("hello from the context");

    const info = await docker.inspectImage(tag);
    expect(info?.Id).toBe(result.imageId);
    expect(info?.Config?.Labels?.["org.mlenv.test"]).toBe(run);

    const out = await docker.run({
      image: tag,
      cmd: [
        "python3",
        "-c",
        "import sys, socket; print(open('/opt/hello.txt').read().strip(), sys.version_info[0]); print(socket.gethostname())",
      ],
      env: { MLENV_X: "1" },
      network: "host",
    });
    expect(out.exitCode).toBe(0);
    expect(out.stdout).toContain("hello from the context 3");
    // asked-for host networking: the container shares the host's name
    const { hostname } = await import("node:os");
    expect(out.stdout.trim().split("\n")[1]).toBe(hostname());

    const failing = await docker.run({ image: tag, cmd: ["python3", "-c", "import no_such_module_x"] });
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr).toContain("ModuleNotFoundError");

    // a rebuild of the same context comes from the layer cache
    const again = await docker.buildImage(hello);
    expect(again.steps.filter((s) => s.index > 1 && s.index < 5).every((s) => s.cached)).toBe(true);

    const history = await docker.imageHistory(tag);
    expect(history.some((h) => h.CreatedBy.includes("building $GREETING"))).toBe(true);
  }, 180_000);

  it("reports which step failed, with its output", async () => {
    const err = (await docker
      .buildImage({
        context: {
          Dockerfile: enc(
            `FROM ${base}\nRUN echo fine\nRUN echo "about to fail: marker-${run}" && python3 -c "import does_not_exist"\nRUN echo never\n`,
          ),
        },
        tags: [`mlenv-test/client-${run}:fails`],
      })
      .catch((e: unknown) => e)) as DockerBuildError;
    expect(err.code).toBe("E_DOCKER_BUILD_FAILED");
    expect(err.step.index).toBe(3);
    expect(err.step.total).toBe(4);
    expect(err.step.instruction).toContain("about to fail");
    expect(err.step.output).toContain(`about to fail: marker-${run}`);
    expect(err.step.output).toContain("ModuleNotFoundError");
    expect(err.message).toContain("step 3/4");
    expect(err.engineMessage).toContain("non-zero code");
    expect(await docker.inspectImage(`mlenv-test/client-${run}:fails`)).toBeNull();
  }, 120_000);

  it("prunes the dangling image a failed build leaves behind", async () => {
    const since = new Date(Date.now() - 1000);
    const err = await docker
      .buildImage({
        context: { Dockerfile: enc(`FROM ${base}\nENV MARKER=prune-${run}\nRUN false\n`) },
        tags: [`mlenv-test/client-${run}:prune`],
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_DOCKER_BUILD_FAILED" });
    const removed = await docker.pruneDanglingImages({ since });
    expect(removed.length).toBeGreaterThanOrEqual(1);
    for (const id of removed) expect(await docker.inspectImage(id)).toBeNull();
  }, 120_000);

  it("cancels a running build through an AbortSignal and fails a build that outlives its timeout", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = docker.buildImage({
      context: { Dockerfile: enc(`FROM ${base}\nRUN echo start-${run}-a && sleep 60\n`) },
      signal: controller.signal,
      onLog: (l) => {
        if (l.text.includes(`start-${run}-a`)) controller.abort();
      },
    });
    await expect(pending).rejects.toMatchObject({ code: "E_DOCKER_ABORTED" });
    expect(Date.now() - started).toBeLessThan(30_000);

    const t0 = Date.now();
    await expect(
      docker.buildImage({
        context: { Dockerfile: enc(`FROM ${base}\nRUN sleep 60 # ${run}-b\n`) },
        timeoutMs: 2000,
      }),
    ).rejects.toMatchObject({ code: "E_DOCKER_TIMEOUT" });
    expect(Date.now() - t0).toBeLessThan(30_000);
  }, 90_000);

  it("tags, pushes to a registry with a digest the registry serves, and removes", async () => {
    const local = `mlenv-test/client-${run}:push`;
    const remote = `${registry.address}/mlenv/client_${run.replace(/[^a-z0-9]/g, "")}:v1`;
    created.add(local).add(remote);
    await docker.buildImage({
      context: { Dockerfile: enc(`FROM ${base}\nLABEL marker=${run}\n`) },
      tags: [local],
    });
    await docker.tagImage(local, remote);
    const progress: string[] = [];
    const pushed = await docker.pushImage(remote, {
      auth: { username: "u", password: "secret-never-logged", serveraddress: registry.address },
      onProgress: (l) => progress.push(l),
    });
    expect(pushed.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(progress.join("\n")).not.toContain("secret-never-logged");
    const [repo, tag] = remote.slice(registry.address.length + 1).split(":");
    const head = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
      method: "HEAD",
      headers: { accept: "application/vnd.docker.distribution.manifest.v2+json" },
    });
    expect(head.status).toBe(200);
    expect(head.headers.get("docker-content-digest")).toBe(pushed.digest);

    expect(await docker.removeImage(remote)).toBe(true);
    expect(await docker.inspectImage(remote)).toBeNull();
    expect(await docker.removeImage(remote)).toBe(false);
    await expect(
      docker.pushImage(`${registry.address}/mlenv/absent_${run.replace(/[^a-z0-9]/g, "")}:v1`),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/^E_DOCKER_(NOT_FOUND|PUSH_FAILED)$/),
    });
  }, 120_000);

  it("honours a tcp:// DOCKER_HOST (through a local TCP relay to the socket)", async () => {
    const socketPath = docker.endpoint.kind === "unix" ? docker.endpoint.socketPath : null;
    if (!socketPath) return;
    const sockets = new Set<Socket>();
    const relay: Server = createServer((inbound) => {
      const outbound = connect(socketPath);
      sockets.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on("error", () => outbound.destroy());
      outbound.on("error", () => inbound.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
    const port = (relay.address() as { port: number }).port;
    try {
      const viaTcp = new DockerClient({ host: `tcp://127.0.0.1:${port}` });
      expect(viaTcp.address).toBe(`tcp://127.0.0.1:${port}`);
      await viaTcp.ping();
      expect((await viaTcp.inspectImage(base))?.Id).toMatch(/^sha256:/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });

  it("fails clearly when no engine answers", async () => {
    const nobody = new DockerClient({ host: "unix:///nonexistent/docker.sock" });
    await expect(nobody.ping()).rejects.toMatchObject({ code: "E_DOCKER_UNREACHABLE" });
  });
});
