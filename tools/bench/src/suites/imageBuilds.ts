/**
 * Image builds on the real Docker engine (issue 7): a cold build of a pip environment on the
 * local base image (build + push to a local registry), a cache hit of the same image key (no
 * engine build), and a rebuild after changing one pip pin (earlier layers reused).
 * Targets: cache hit <= 1% of cold; pip-only change <= 0.3x cold.
 */
import { createServer, type Server } from "node:http";
import { type EnvironmentDefinition, parseDefinition, pipEntries } from "@mlenv/core";
import { DockerClient, ImageBuilder, type RenderBuildContext } from "@mlenv/server";
import {
  type BuiltWheel,
  baseImageCpu,
  buildWheel,
  dockerAvailable,
  registryAvailable,
  skipWithout,
  startRegistry,
} from "@mlenv/test-utils";
import { type BenchSuite, median } from "../harness";

const enc = (s: string) => new TextEncoder().encode(s);

async function serveWheels(wheels: BuiltWheel[]): Promise<{ url: string; server: Server }> {
  const byName = new Map(wheels.map((w) => [w.filename, w]));
  const server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? "/").slice(1));
    const wheel = byName.get(name);
    if (name === "")
      res
        .setHeader("content-type", "text/html")
        .end(wheels.map((w) => `<a href="${w.filename}">${w.filename}</a>`).join("\n"));
    else if (wheel) res.end(Buffer.from(wheel.bytes));
    else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

export const suite: BenchSuite = {
  name: "image-builds",
  requires: ["docker"],
  async run(ctx) {
    if (skipWithout("docker", (await dockerAvailable()) ?? registryAvailable())) return;
    const run = `${process.pid}x${Date.now().toString(36)}`;
    const names = ["alpha", "beta", "gamma", "delta"].map((n) => `mlenv-bench-${n}-${run}`);
    const wheels = names.flatMap((n) => [
      buildWheel({
        name: n,
        version: "1.0",
        files: { [`${n.replace(/-/g, "_")}/__init__.py`]: "X = 1\n".repeat(2000) },
      }),
      buildWheel({ name: n, version: "1.1" }),
    ]);
    const index = await serveWheels(wheels);
    const registry = await startRegistry();
    const docker = new DockerClient();
    // Pip-only rendering over the local base; the run marker right after FROM makes the cold
    // build really cold (no layer of an earlier bench run can be reused).
    const render: RenderBuildContext = (def) => ({
      Dockerfile: enc(
        [
          `FROM ${def.docker.baseImage}`,
          `ENV MLENV_BENCH_RUN=${run}`,
          "RUN python3 -m venv /opt/mlenv/env",
          "ENV PATH=/opt/mlenv/env/bin:$PATH",
          "COPY requirements.txt /opt/mlenv/requirements.txt",
          `RUN pip install --disable-pip-version-check --no-index --find-links ${index.url}/ -r /opt/mlenv/requirements.txt`,
          "",
        ].join("\n"),
      ),
      "requirements.txt": enc(
        `${pipEntries(def.python.condaDependencies ?? { dependencies: [] }).join("\n")}\n`,
      ),
    });
    const builder = new ImageBuilder({ docker, render, registry: { address: registry.address } });
    const definition = (pins: string[]): EnvironmentDefinition =>
      parseDefinition({
        name: "bench",
        docker: { baseImage: baseImageCpu() },
        python: { condaDependencies: { dependencies: ["python=3.11", { pip: pins }] } },
      });
    const images: string[] = [];
    try {
      // A registry that already holds the base layer, as it does after its first environment:
      // the cold build then pays for its own layers only.
      const basePushed = `${registry.address}/mlenv/base-bench:latest`;
      await docker.tagImage(baseImageCpu(), basePushed);
      images.push(basePushed);
      await docker.pushImage(basePushed);
      const pins = names.map((n) => `${n}==1.0`);
      const cold = await builder.build({ definition: definition(pins) });
      images.push(cold.image);
      if (cold.source !== "built") throw new Error(`expected a cold build, got ${cold.source}`);
      ctx.log(
        `cold build ${cold.durationMs.toFixed(0)} ms (${cold.steps.length} steps, pushed ${cold.digest})`,
      );

      const hits: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const hit = await builder.build({ definition: definition([...pins].reverse()) });
        hits.push(performance.now() - t0);
        if (!hit.cacheHit) throw new Error("expected a cache hit");
      }
      const hit = median(hits);
      ctx.compare({
        bench: "image build: cache hit vs cold",
        ours: hit,
        peer: "cold build",
        theirs: cold.durationMs,
        unit: "ms",
        extra: { target: "<= 0.01", hitMin: Math.min(...hits), hitMax: Math.max(...hits) },
      });

      const changedPins = [...pins.slice(0, -1), `${names[names.length - 1]}==1.1`];
      const changed = await builder.build({ definition: definition(changedPins) });
      images.push(changed.image);
      if (changed.source !== "built") throw new Error(`expected a rebuild, got ${changed.source}`);
      ctx.compare({
        bench: "image build: pip-only change vs cold",
        ours: changed.durationMs,
        peer: "cold build",
        theirs: cold.durationMs,
        unit: "ms",
        extra: {
          target: "<= 0.3",
          cachedSteps: changed.steps.filter((s) => s.cached).length,
          steps: changed.steps.length,
        },
      });
    } finally {
      for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
      index.server.close();
      await registry.stop();
    }
  },
};
