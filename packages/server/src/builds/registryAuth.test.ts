import { randomBytes } from "node:crypto";
import { baseImageCpu, skipWithout, uniqueTag } from "@mlenv/test-utils";
import { imageBuildsMissing, useImageBuilds, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerClient } from "../docker/index";
import { silentLogger } from "../logger";
import { type RunningServer, startServer } from "../server";

const reason = await imageBuildsMissing();
const run = uniqueTag();
/** `${MLENV_SECRET_REGISTRY_PW}`: the definition names the secret, never its value. */
const secretRef = ["$", "{MLENV_SECRET_REGISTRY_PW}"].join("");

describe.skipIf(skipWithout("docker", reason))(
  "a private base image with credentials from workspace secrets",
  () => {
    const docker = new DockerClient();
    const password = `pw-${randomBytes(9).toString("hex")}`;
    const admin = `mlenv_${randomBytes(32).toString("base64url")}`;
    const dir = useTempDir("mlenv-builds-regauth-");
    const { registry, images } = useImageBuilds(docker, {
      registry: { auth: { username: "mlenv", password } },
    });
    let srv: RunningServer;
    let privateBase: string;

    beforeAll(async () => {
      privateBase = `${registry.address}/private/base-${run}:1`;
      images.add(privateBase);
      await docker.tagImage(baseImageCpu(), privateBase);
      await docker.pushImage(privateBase, {
        auth: { username: "mlenv", password, serveraddress: registry.address },
      });
      await docker.removeImage(privateBase); // the build must pull it
      srv = await startServer({
        dataDir: dir.path,
        bootstrapToken: admin,
        logger: silentLogger,
        builds: { baseImageCpu: baseImageCpu(), condaExecutable: null, pollMs: 100 },
      });
    }, 120_000);

    afterAll(async () => {
      await srv?.close();
    });

    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${srv.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const buildOf = async (name: string) => {
      const { body } = await api("POST", `/api/v1/environments/${name}/builds`, {});
      const id = (body.job as { id: string }).id;
      for (;;) {
        const job = (await api("GET", `/api/v1/builds/${id}`)).body;
        if (!["queued", "running"].includes(String(job.status))) return job;
        await new Promise((r) => setTimeout(r, 100));
      }
    };

    it("pulls with the secret's value, which reaches neither the definition, the log nor the image", async () => {
      const reg = await api("POST", "/api/v1/environments", {
        definition: {
          name: `private-base-${run}`,
          docker: {
            baseImage: privateBase,
            baseImageRegistry: {
              address: registry.address,
              username: "mlenv",
              password: secretRef,
            },
          },
          python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
        },
      });
      expect(reg.status).toBe(201);

      // without the secret: a clear error naming it
      const missing = await buildOf(`private-base-${run}`);
      expect(missing.status).toBe("failed");
      expect((missing.error as { code: string }).code).toBe("E_WHEEL_SECRET_NOT_FOUND");
      expect((missing.error as { message: string }).message).toContain("REGISTRY_PW");

      expect(
        (
          await api("PUT", "/api/v1/secrets/REGISTRY_PW", {
            value: password,
            allowedHosts: [registry.address],
          })
        ).status,
      ).toBeLessThan(300);
      const job = await buildOf(`private-base-${run}`);
      expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
      const image = (job.outcome as { image: string }).image;
      images.add(image);
      const logs = await api("GET", `/api/v1/builds/${job.id as string}/logs?format=json`);
      const everything = JSON.stringify([
        job,
        logs.body,
        (await api("GET", `/api/v1/environments/private-base-${run}`)).body,
        await docker.inspectImage(image),
        await docker.imageHistory(image),
      ]);
      expect(everything).toContain(`FROM ${privateBase}`);
      expect(everything).not.toContain(password);
    }, 180_000);
  },
);
