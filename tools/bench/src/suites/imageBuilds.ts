/**
 * Image builds on the real Docker engine (issue 7), through the production path: core's
 * rendered Dockerfile (venv mode on the local conda-less base image), pip packages from a
 * loopback index, ImageBuilder with push to a local registry.
 * - cold: a forced rebuild (no image cache, no engine layer cache) + push of its layers;
 * - cache hit: the same image key again (no engine build);
 * - pip-only change: one pin changed, earlier layers reused.
 * Targets: cache hit <= 1% of cold; pip-only change <= 0.3x cold.
 */
import { type EnvironmentDefinition, parseDefinition } from "@mlenv/core";
import { coreRenderer, DockerClient, ImageBuilder } from "@mlenv/server";
import {
  baseImageCpu,
  buildWheel,
  dockerAvailable,
  registryAvailable,
  servePypiIndex,
  skipWithout,
  startRegistry,
} from "@mlenv/test-utils";
import { type BenchSuite, median } from "../harness";

export const suite: BenchSuite = {
  name: "image-builds",
  requires: ["docker"],
  async run(ctx) {
    if (skipWithout("docker", (await dockerAvailable()) ?? registryAvailable())) return;
    const run = `${process.pid}x${Date.now().toString(36)}`;
    const names = ["alpha", "beta", "gamma", "delta"].map((n) => `mlenv-bench-${n}-${run}`);
    const index = await servePypiIndex({
      projects: Object.fromEntries(
        names.map((n) => [
          n,
          [
            {
              wheel: buildWheel({
                name: n,
                version: "1.0",
                files: { [`${n.replace(/-/g, "_")}/__init__.py`]: "X = 1\n".repeat(2000) },
              }),
            },
            { wheel: buildWheel({ name: n, version: "1.1" }) },
          ],
        ]),
      ),
    });
    const registry = await startRegistry();
    const docker = new DockerClient();
    const builder = new ImageBuilder({
      docker,
      render: coreRenderer({ condaExecutable: null }),
      registry: { address: registry.address },
    });
    const definition = (pins: string[]): EnvironmentDefinition =>
      parseDefinition({
        name: "bench",
        docker: { baseImage: baseImageCpu() },
        python: {
          condaDependencies: {
            dependencies: ["python=3.11", { pip: [`--index-url ${index.url}/`, ...pins] }],
          },
        },
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
      const cold = await builder.build({ definition: definition(pins), rebuild: true });
      images.push(cold.image);
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
      ctx.compare({
        bench: "image build: cache hit vs cold",
        ours: median(hits),
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
      await index.close();
      await registry.stop();
    }
  },
};
