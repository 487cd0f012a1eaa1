import { parseDefinition } from "@mlenv/core";
import { baseImageCpu, skipWithout, uniqueTag, wheelProjects } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds } from "@mlenv/test-utils/fixtures";
import { beforeAll, describe, expect, it } from "vitest";
import { CountingDocker } from "../../test/countingDocker";
import type { BuildLogLine } from "../docker/index";
import { coreRenderer, ImageBuilder } from "./builder";

const reason = await imageBuildsMissing();
const run = uniqueTag();

describe.skipIf(skipWithout("docker", reason))("core's venv rendering built on the local base image", () => {
  const docker = new CountingDocker();
  const a = `mlenv-venv-a-${run}`;
  const b = `mlenv-venv-b-${run}`;
  const { registry, index, images } = useImageBuilds(docker, {
    index: () => ({ projects: wheelProjects({ [a]: ["1.0"], [b]: ["2.0", "2.1"] }) }),
  });
  let builder: ImageBuilder;

  beforeAll(() => {
    builder = new ImageBuilder({
      docker,
      render: coreRenderer({ condaExecutable: null }),
      registry: { address: registry.address },
    });
  });

  const definition = (pinB: string) =>
    parseDefinition({
      name: "venv-env",
      docker: { baseImage: baseImageCpu() },
      python: {
        condaDependencies: {
          dependencies: ["python=3.11", { pip: [`--index-url ${index.url}/`, `${a}==1.0`, `${b}==${pinB}`] }],
        },
      },
    });

  it("builds from a test-served index, imports in the image, rebuilds as a cache hit, and reuses layers on a pin change", async () => {
    const lines: BuildLogLine[] = [];
    const before = docker.builds;
    const cold = await builder.build({ definition: definition("2.0"), onLog: (l) => lines.push(l) });
    images.add(cold.image);
    expect(cold.source).toBe("built");
    expect(cold.dockerfile).toContain("-m venv");
    expect(lines.some((l) => l.text.includes("Successfully installed"))).toBe(true);
    const mod = (n: string) => n.replace(/-/g, "_");
    const out = await docker.run({
      image: cold.image,
      cmd: ["sh", "-c", `exec "$MLENV_PYTHON" -c "import ${mod(a)}, ${mod(b)}; print(${mod(b)}.VALUE)"`],
    });
    expect(out.stdout.trim()).toBe(`${b} 2.0`);

    const hit = await builder.build({ definition: definition("2.0") });
    expect(hit).toMatchObject({ cacheHit: true, source: "local", digest: cold.digest });
    expect(docker.builds - before).toBe(1);

    const changed = await builder.build({ definition: definition("2.1") });
    images.add(changed.image);
    expect(changed.source).toBe("built");
    const venvStep = changed.steps.find((s) => s.instruction.includes("-m venv"));
    expect(venvStep?.cached).toBe(true);
    expect(changed.steps.find((s) => s.instruction.includes("pip install"))?.cached).toBe(false);
    const layerOf = async (image: string) =>
      (await docker.imageHistory(image)).find((h) => h.CreatedBy.includes("-m venv"))?.Id;
    expect(await layerOf(changed.image)).toBe(await layerOf(cold.image));
    const out2 = await docker.run({
      image: changed.image,
      cmd: ["sh", "-c", `exec "$MLENV_PYTHON" -c "import ${mod(b)}; print(${mod(b)}.VALUE)"`],
    });
    expect(out2.stdout.trim()).toBe(`${b} 2.1`);

    // a forced rebuild skips both caches
    const builds = docker.builds;
    const forced = await builder.build({ definition: definition("2.0"), rebuild: true });
    expect(forced.source).toBe("built");
    expect(docker.builds - builds).toBe(1);
    expect(forced.steps.some((s) => s.cached)).toBe(false);
  }, 300_000);
});
