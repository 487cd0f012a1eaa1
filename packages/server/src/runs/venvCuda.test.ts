import { readFileSync } from "node:fs";
import { join } from "node:path";
import { imageKey, parseDefinition } from "@mlenv/core";
import { condaArchiveToolsMissing, serveGpukitCondaChannel, skipWithout } from "@mlenv/test-utils";
import { useCondaChannel, useTempDir } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import { venvMissing } from "../../test/helpers";
import { VenvCache } from "./venv";

/**
 * A conda environment locked on this machine for a local run takes this machine's `__cuda` (its
 * driver's CUDA, as conda detects it): the CUDA build of a package where a driver can run it, the
 * CPU build where there is none.
 */
describe.skipIf(
  skipWithout("python3-venv, conda archive tools", venvMissing() ?? condaArchiveToolsMissing()),
)("local conda environments locked for this machine's __cuda", () => {
  const t = useTempDir("mlenv-venv-cuda-");
  const channel = useCondaChannel(() => serveGpukitCondaChannel(join(t.path, "channel")));

  const installed = async (cuda: string | null, name: string) => {
    const def = parseDefinition({
      name,
      python: { condaDependencies: { channels: [channel.url], dependencies: ["python", "gpukit"] } },
    });
    const venvs = new VenvCache({ root: join(t.path, name, "venvs"), cuda: async () => cuda });
    const log: string[] = [];
    const key = imageKey(def);
    await venvs.materialise({ definition: def, imageKey: key, lock: null, log: (l) => log.push(l) });
    return {
      build: readFileSync(join(venvs.dirFor(key), "share/gpukit/build.txt"), "utf8").trim(),
      log: log.join("\n"),
    };
  };

  it("a CUDA 12.4 driver gets the CUDA build; an old driver or none the CPU build", async () => {
    const gpu = await installed("12.4", "with-driver");
    expect(gpu.build, gpu.log).toBe("cuda12_1");
    expect(gpu.log).toContain("(__cuda 12.4, this machine's driver)");
    expect((await installed("11.8", "old-driver")).build).toBe("cpu_0");
    const none = await installed(null, "no-driver");
    expect(none.build).toBe("cpu_0");
    expect(none.log).not.toContain("__cuda");
  }, 300_000);
});
