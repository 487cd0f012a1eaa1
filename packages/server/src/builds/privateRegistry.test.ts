import { parseDefinition } from "@mlenv/core";
import { baseImageCpu, skipWithout, uniqueTag } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds } from "@mlenv/test-utils/fixtures";
import { beforeAll, describe, expect, it } from "vitest";
import { type BuildLogLine, DockerClient, registryManifestDigest } from "../docker/index";
import { ImageBuilder } from "./builder";

const reason = await imageBuildsMissing();
const run = uniqueTag();
const secret = `pw-${run}-never-logged`;

describe.skipIf(skipWithout("docker", reason))(
  "private registries: base image pull and push with credentials",
  () => {
    const docker = new DockerClient();
    const auth = { username: "mlenv", password: secret };
    const { registry, images } = useImageBuilds(docker, { registry: { auth } });
    let privateBase: string;

    beforeAll(() => {
      privateBase = `${registry.address}/private/base-${run}:1`;
      images.add(privateBase);
    });

    it("pushes and looks up manifests only with the credentials", async () => {
      await docker.tagImage(baseImageCpu(), privateBase);
      await expect(docker.pushImage(privateBase)).rejects.toMatchObject({ code: "E_DOCKER_PUSH_FAILED" });
      const pushed = await docker.pushImage(privateBase, {
        auth: { ...auth, serveraddress: registry.address },
      });
      const path = `private/base-${run}`;
      await expect(registryManifestDigest({ address: registry.address }, path, "1")).rejects.toMatchObject({
        status: 401,
      });
      expect(await registryManifestDigest({ address: registry.address, auth }, path, "1")).toBe(
        pushed.digest,
      );
      expect(await registryManifestDigest({ address: registry.address, auth }, path, "absent")).toBeNull();
    }, 120_000);

    it("builds FROM a private base image with credentials that reach neither the log nor the image", async () => {
      const definition = parseDefinition({
        name: "private-base",
        docker: { baseImage: privateBase, baseImageRegistry: { address: registry.address } },
        python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      });
      // the engine must pull the base: drop the local name
      await docker.removeImage(privateBase);

      const anonymous = new ImageBuilder({ docker, registry: { address: registry.address, auth } });
      const failed = (await anonymous.build({ definition }).catch((e: unknown) => e)) as {
        code: string;
        step: { index: number; instruction: string };
        message: string;
      };
      expect(failed.code).toBe("E_DOCKER_BUILD_FAILED");
      expect(failed.step.index).toBe(1);
      expect(failed.step.instruction).toBe(`FROM ${privateBase}`);
      expect(failed.message).toMatch(/auth|unauthorized/i);

      const lines: BuildLogLine[] = [];
      const builder = new ImageBuilder({
        docker,
        registry: { address: registry.address, auth },
        baseImageAuth: (def) => (def.docker.baseImageRegistry.address === registry.address ? auth : null),
      });
      const result = await builder.build({ definition, onLog: (l) => lines.push(l) });
      images.add(result.image);
      expect(result.source).toBe("built");
      expect(result.image.startsWith(`${registry.address}/mlenv/env_`)).toBe(true);
      expect(result.digest).toMatch(/^sha256:/);
      expect(
        await registryManifestDigest(
          { address: registry.address, auth },
          result.image
            .split("/")
            .slice(1)
            .join("/")
            .replace(/:latest$/, ""),
          "latest",
        ),
      ).toBe(result.digest);

      const everything = JSON.stringify([
        lines,
        result,
        await docker.inspectImage(result.image),
        await docker.imageHistory(result.image),
      ]);
      expect(everything).not.toContain(secret);
      expect(everything).not.toContain(Buffer.from(secret).toString("base64").slice(0, 12));
    }, 180_000);

    it("combines baseImage and baseImageRegistry.address the reference's way", async () => {
      const definition = parseDefinition({
        name: "private-base-split",
        docker: {
          baseImage: `private/base-${run}:1`,
          baseImageRegistry: { address: registry.address, username: "mlenv", password: secret },
        },
        python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
      });
      await docker.removeImage(privateBase, { force: true }).catch(() => false);
      const lines: BuildLogLine[] = [];
      const builder = new ImageBuilder({
        docker,
        baseImageAuth: (def) => ({
          username: def.docker.baseImageRegistry.username ?? "",
          password: def.docker.baseImageRegistry.password ?? "",
          serveraddress: registry.address,
        }),
      });
      const result = await builder.build({ definition, onLog: (l) => lines.push(l) });
      images.add(result.image);
      expect(result.source).toBe("built");
      expect(result.steps[0]?.instruction).toBe(`FROM ${privateBase}`);
      expect(JSON.stringify(lines)).not.toContain(secret);
    }, 180_000);
  },
);
