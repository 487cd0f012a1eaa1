/**
 * Image builds on the real Docker engine (issues 7 and 17), through the production path: a
 * conda environment locked against a loopback channel (a python built from this machine's
 * python3), installed by mlenv (@mlenv/conda-installer) and added to the conda-less offline base
 * image as its own layer, pip packages from a loopback index in the next layer, ImageBuilder with
 * push to a local registry.
 * - cold: a forced rebuild (no image cache, no engine layer cache, empty package cache and
 *   prefix staging) + push of its layers;
 * - cache hit: the same image key again (no engine build);
 * - pip-only change: one pin changed; the staged conda prefix and its layer are reused.
 * Targets: cache hit <= 1% of cold; pip-only change <= 0.3x cold.
 */
import { join } from "node:path";
import { type EnvironmentDefinition, type Lock, parseDefinition } from "@mlenv/core";
import { lockEnvironment } from "@mlenv/resolver";
import { DockerClient, ImageBuilder } from "@mlenv/server";
import {
  baseImageCpu,
  buildCondaPackage,
  buildWheel,
  condaArchiveToolsMissing,
  dockerAvailable,
  localCondaDefinition,
  makeTempDir,
  pythonFixture,
  registryAvailable,
  serveCondaChannel,
  servePypiIndex,
  skipWithout,
  startRegistry,
  writeCondaChannel,
} from "@mlenv/test-utils";
import { type BenchSuite, median } from "../harness";

export const suite: BenchSuite = {
  name: "image-builds",
  requires: ["docker"],
  async run(ctx) {
    if (
      skipWithout(
        "docker, conda archive tools",
        (await dockerAvailable()) ?? registryAvailable() ?? condaArchiveToolsMissing(),
      )
    )
      return;
    const tmp = makeTempDir("mlenv-bench-images-");
    const channelDir = join(tmp.path, "channel");
    writeCondaChannel(channelDir, [await buildCondaPackage(pythonFixture())]);
    const channel = await serveCondaChannel({ dir: channelDir });
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
      registry: { address: registry.address },
      condaPrefix: { dir: join(tmp.path, "prefixes"), packageCache: join(tmp.path, "pkgs") },
    });
    const definition = (pins: string[]): EnvironmentDefinition =>
      parseDefinition(
        localCondaDefinition("bench", ["python", { pip: [`--index-url ${index.url}/`, ...pins] }], {
          channels: [channel.url],
          docker: { baseImage: baseImageCpu() },
        }),
      );
    const locked = async (pins: string[]): Promise<{ definition: EnvironmentDefinition; lock: Lock }> => {
      const def = definition(pins);
      return { definition: def, lock: await lockEnvironment(def) };
    };
    const images: string[] = [];
    try {
      // A registry that already holds the base layer, as it does after its first environment:
      // the cold build then pays for its own layers only.
      const basePushed = `${registry.address}/mlenv/base-bench:latest`;
      await docker.tagImage(baseImageCpu(), basePushed);
      images.push(basePushed);
      await docker.pushImage(basePushed);

      const pins = names.map((n) => `${n}==1.0`);
      const cold = await builder.build({ ...(await locked(pins)), rebuild: true });
      images.push(cold.image);
      ctx.log(
        `cold build ${cold.durationMs.toFixed(0)} ms (${cold.steps.length} steps, pushed ${cold.digest})`,
      );

      const again = await locked([...pins].reverse());
      const hits: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const hit = await builder.build(again);
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
      const changed = await builder.build(await locked(changedPins));
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
          condaLayerReused: String(changed.steps.some((s) => s.cached && s.instruction.startsWith("ADD "))),
          steps: changed.steps.length,
        },
      });
    } finally {
      for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
      await index.close();
      await channel.close();
      await registry.stop();
      tmp.cleanup();
    }
  },
};
