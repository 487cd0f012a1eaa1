import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type EnvironmentDefinition, type Lock, parseDefinition } from "@mlenv/core";
import { lockEnvironment } from "@mlenv/resolver";
import {
  baseImageCpu,
  type CondaChannelServer,
  ccMissing,
  compiledFixture,
  condaArchiveToolsMissing,
  dockerAvailable,
  greetCliFixture,
  localCondaDefinition,
  type PypiIndexServer,
  pythonFixture,
  serveFixtureChannel,
  servePypiIndex,
  skipWithout,
  uniqueTag,
  wheelProjects,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCondaPrefixBuilds } from "../../test/helpers";
import type { ImageBuildResult } from "./index";

const reason = (await dockerAvailable()) ?? condaArchiveToolsMissing() ?? ccMissing();
const run = uniqueTag();
const PREFIX = "/opt/conda/envs/mlenv";

/**
 * Issue 17's image test: a conda environment locked against a loopback channel (a python built
 * from this machine's python3, a noarch package with an entry point, a compiled package with a
 * binary prefix placeholder) is installed by mlenv, not conda, and copied into the conda-less
 * offline base image; a container imports and runs it. A pip-only change reuses the conda layer.
 */
describe.skipIf(skipWithout("docker, conda archive tools, cc", reason))(
  "images with a conda prefix installed by mlenv (no conda in the base image)",
  () => {
    const { docker, tmp, images, builder } = useCondaPrefixBuilds("mlenv-conda-image-");
    const tool = `mlenv-tool-${run}`;
    let channel: CondaChannelServer;
    let pypi: PypiIndexServer;

    beforeAll(async () => {
      ({ channel } = await serveFixtureChannel(join(tmp.path, "channel"), [
        pythonFixture(),
        greetCliFixture(),
        compiledFixture(tmp.path, "tar.bz2"),
      ]));
      pypi = await servePypiIndex({ projects: wheelProjects({ [tool]: ["1.0", "1.1"] }) });
    }, 300_000);
    afterAll(async () => {
      await channel?.close();
      await pypi?.close();
    });

    const definition = (pin: string): EnvironmentDefinition =>
      parseDefinition(
        localCondaDefinition(
          "conda-image",
          ["python", "greet", "showprefix", { pip: [`--index-url ${pypi.url}`, pin] }],
          { channels: [channel.url], docker: { baseImage: baseImageCpu() } },
        ),
      );
    const build = async (def: EnvironmentDefinition, lock: Lock) => {
      const log: string[] = [];
      const result = await builder.build({ definition: def, lock, onLog: (l) => log.push(l.text) });
      images.add(result.image);
      return { result, log };
    };
    const step = (r: ImageBuildResult, start: string) => {
      const s = r.steps.find((x) => x.instruction.startsWith(start));
      if (!s) throw new Error(`no step ${start} in ${r.steps.map((x) => x.instruction).join(" | ")}`);
      return s;
    };
    const inContainer = async (image: string, cmd: string[]) => {
      const r = await docker.run({ image, cmd });
      return { code: r.exitCode, out: r.stdout, err: r.stderr };
    };

    let first: ImageBuildResult;

    it("locks, installs the prefix outside the image, builds on the conda-less base and runs it", async () => {
      // the base image has no conda
      const noConda = await inContainer(baseImageCpu(), [
        "sh",
        "-c",
        "command -v conda micromamba mamba || echo none",
      ]);
      expect(noConda.out.trim()).toBe("none");

      const def = definition(`${tool}==1.0`);
      const lock = await lockEnvironment(def);
      expect(lock.platforms["linux-64"]?.conda.map((p) => p.name)).toEqual(["greet", "python", "showprefix"]);
      const { result, log } = await build(def, lock);
      first = result;
      expect(result.source).toBe("built");
      // conda packages, then pip packages, each in a step of its own
      expect(result.dockerfile).toMatch(
        /\nADD conda-prefix\.tar \/\nRUN [^\n]+ -m compileall [^\n]+\nENV [\s\S]*\nCMD [^\n]+\nCOPY requirements\.txt [^\n]+\nRUN \/opt\/conda\/envs\/mlenv\/bin\/python -m pip install[^\n]+\nLABEL /,
      );
      expect(result.dockerfile).not.toMatch(/micromamba|conda create/);
      expect(step(result, "ADD conda-prefix.tar").cached).toBe(false);
      expect(
        log.some((l) => /installing conda prefix \/opt\/conda\/envs\/mlenv \(3 conda packages/.test(l)),
      ).toBe(true);

      const ep = await inContainer(result.image, ["greet"]);
      expect(ep).toMatchObject({ code: 0, out: `hello from greet ${PREFIX}\n` });
      const py = await inContainer(result.image, [
        "python",
        "-c",
        `import sys, greet, ${tool.replace(/-/g, "_")}; print(sys.prefix, sys.version_info[0])`,
      ]);
      expect(py).toMatchObject({ code: 0, out: `${PREFIX} 3\n` });
      // the binary placeholder names the image's prefix, not the server's staging folder
      expect((await inContainer(result.image, ["show-prefix"])).out).toBe(`${PREFIX}\n`);
      const meta = await inContainer(result.image, ["sh", "-c", `ls ${PREFIX}/conda-meta`]);
      expect(meta.out.split("\n").filter((f) => f.endsWith(".json"))).toHaveLength(3);
      // the staging folder is gone; the archive stays for the next build of these packages
      expect(readdirSync(join(tmp.path, "prefixes")).filter((f) => f.endsWith(".tar"))).toHaveLength(1);
      expect(readdirSync(join(tmp.path, "prefixes")).filter((f) => f.startsWith("."))).toEqual([]);
    }, 600_000);

    it("a pip-only change reuses the conda layer and rebuilds only from the pip layer", async () => {
      const def = definition(`${tool}==1.1`);
      const lock = await lockEnvironment(def);
      const { result, log } = await build(def, lock);
      expect(result.source).toBe("built");
      expect(result.imageKey).not.toBe(first.imageKey);
      expect(log.some((l) => /3 conda packages, staged earlier/.test(l))).toBe(true);
      expect(log.some((l) => /installing conda prefix/.test(l))).toBe(false);
      expect(step(result, "ADD conda-prefix.tar").cached).toBe(true);
      expect(step(result, "RUN /opt/conda/envs/mlenv/bin/python -m compileall").cached).toBe(true);
      expect(step(result, "ENV ").cached).toBe(true);
      expect(step(result, "CMD ").cached).toBe(true);
      expect(step(result, "COPY requirements.txt").cached).toBe(false);
      expect(step(result, "RUN /opt/conda/envs/mlenv/bin/python -m pip").cached).toBe(false);

      // the layers up to the conda prefix are the first image's, by id
      const layers = async (image: string) => (await docker.inspectImage(image))?.RootFS.Layers ?? [];
      const before = await layers(first.image);
      const after = await layers(result.image);
      const base = await layers(baseImageCpu());
      expect(before.slice(0, base.length + 1)).toEqual(after.slice(0, base.length + 1));
      expect(after.length).toBeGreaterThan(base.length + 1);
      expect(after.at(-1)).not.toBe(before.at(-1));

      const py = await inContainer(result.image, [
        "python",
        "-c",
        `from importlib.metadata import version; print(version("${tool}"))`,
      ]);
      expect(py).toMatchObject({ code: 0, out: "1.1\n" });
      expect(existsSync(join(tmp.path, "pkgs"))).toBe(true);
    }, 600_000);
  },
);
