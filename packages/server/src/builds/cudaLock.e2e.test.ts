import { readdirSync } from "node:fs";
import { join } from "node:path";
import { parseDefinition } from "@mlenv/core";
import {
  baseImageCpu,
  condaArchiveToolsMissing,
  dockerAvailable,
  localCondaDefinition,
  serveGpukitCondaChannel,
  skipWithout,
} from "@mlenv/test-utils";
import { useCondaChannel } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import { useCondaPrefixBuilds } from "../../test/helpers";

const reason = (await dockerAvailable()) ?? condaArchiveToolsMissing();

/**
 * A definition without a lock is locked by the builder when it stages the conda prefix: with no
 * driver at build time, a GPU definition's `__cuda` is its image's CUDA (docker.cudaVersion), as
 * the client's `mlenv env lock` does, so the image gets the CUDA build; a CPU definition the CPU one.
 */
describe.skipIf(skipWithout("docker, conda archive tools", reason))(
  "build-time locks of GPU definitions (__cuda from the image)",
  () => {
    const { docker, tmp, images, builder } = useCondaPrefixBuilds("mlenv-cuda-lock-");
    const channel = useCondaChannel(() => serveGpukitCondaChannel(join(tmp.path, "channel")));

    const buildOf = async (settings: Record<string, unknown>) => {
      const definition = parseDefinition(
        localCondaDefinition("cuda-lock", ["python", "gpukit"], {
          channels: [channel.url],
          docker: { baseImage: baseImageCpu(), ...settings },
        }),
      );
      const log: string[] = [];
      const result = await builder.build({ definition, onLog: (l) => log.push(l.text) });
      images.add(result.image);
      const r = await docker.run({
        image: result.image,
        cmd: ["cat", "/opt/conda/envs/mlenv/share/gpukit/build.txt"],
      });
      return { build: r.stdout.trim(), log: log.join("\n") };
    };

    it("locks the CUDA build for a GPU definition of CUDA 12.4 and the CPU build otherwise", async () => {
      const gpu = await buildOf({ gpuSupport: true, cudaVersion: "12.4" });
      expect(gpu.build).toBe("cuda12_1");
      expect(gpu.log).toContain("(__cuda 12.4, the image's CUDA)");
      // a driver too old for the CUDA build, and a CPU definition: the CPU build
      const old = await buildOf({ gpuSupport: true, cudaVersion: "11.8" });
      expect(old.build, old.log).toBe("cpu_0");
      const cpu = await buildOf({});
      expect(cpu.build).toBe("cpu_0");
      expect(cpu.log).not.toContain("__cuda");
      expect(readdirSync(join(tmp.path, "prefixes")).filter((f) => f.endsWith(".tar"))).toHaveLength(2);
    }, 300_000);
  },
);
