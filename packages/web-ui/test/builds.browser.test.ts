import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import {
  BuildQueue,
  buildRoutes,
  createApp,
  DockerClient,
  FsBlobStore,
  ImageBuilder,
  openBuildJobStore,
  Registry,
  SqliteStore,
} from "@mlenv/server";
import {
  apiClient,
  baseImageCpu,
  chromiumMissing,
  dockerAvailable,
  makeTempDir,
  skipWithout,
  uniqueTag,
} from "@mlenv/test-utils";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditDesktopAndPhone, axeViolations } from "./axeAudit";
import { openPage, signIn } from "./chromiumPage";

const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/ui/", import.meta.url));
const dockerReason = await dockerAvailable();
const run = uniqueTag();

/**
 * The UI against the registry app with the build routes mounted next to it (as the builds README
 * shows) on the real Docker engine: start a build from an environment's page and watch its log.
 */
describe.skipIf(skipWithout("chromium", chromiumMissing) || skipWithout("docker", dockerReason))(
  "web UI builds in Chromium",
  () => {
    const dir = makeTempDir("mlenv-ui-builds-");
    const docker = new DockerClient();
    const images = new Set<string>();
    let url: string;
    let token: string;
    let stop: () => Promise<void>;
    let page: Page;
    let closePage: () => Promise<void>;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = join(dir.path, "mlenv.db");
      const store = new SqliteStore(file);
      await store.migrate();
      const blobs = new FsBlobStore(join(dir.path, "blobs"));
      const { app } = createApp({ store, blobs });
      const boot = await new Registry({ store, blobs }).bootstrap(undefined);
      token = boot!.token;
      const builder = new ImageBuilder({ docker });
      const jobs = openBuildJobStore({ sqliteFile: file });
      const queue = new BuildQueue({ jobs, builder, pollMs: 100, heartbeatMs: 200 });
      await queue.start();
      app.route("/", buildRoutes({ store, queue, builder }));
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
      await new Promise<void>((r) => server.once("listening", () => r()));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      stop = async () => {
        await new Promise<void>((r) => {
          server.close(() => r());
          (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        });
        await queue.close();
        await jobs.close();
        await store.close();
      };
      // User-managed on the local base image: a quick real build. The spark repository makes the
      // image key unique to this run, so it is built, not found in the cache.
      const api = apiClient(url, token);
      const userManaged = { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" };
      const build = await api("POST", "/api/v1/environments", {
        definition: {
          name: "ui-build",
          docker: { baseImage: baseImageCpu() },
          python: userManaged,
          spark: { repositories: [`https://example.invalid/${run}`] },
        },
      });
      expect(build.status).toBe(201);
      // A custom Dockerfile that prints while it runs, then fails: the log must arrive live.
      const failing = await api("POST", "/api/v1/environments", {
        definition: {
          name: "ui-fails",
          docker: {
            baseImage: null,
            baseDockerfile: `FROM ${baseImageCpu()}\nRUN for i in 1 2 3 4; do echo tick-$i; sleep 1; done; echo ${run} >&2; exit 3\n`,
          },
          python: userManaged,
        },
      });
      expect(failing.status).toBe(201);

      ({ page, close: closePage } = await openPage(url, { viewport: { width: 1280, height: 900 } }));
    }, 180_000);

    afterAll(async () => {
      await closePage?.();
      await stop?.();
      for (const image of images) await docker.removeImage(image, { force: true }).catch(() => false);
      dir.cleanup();
    });

    it("starts a build from the environment page and shows its log and image", async () => {
      await signIn(page, url, token);
      await page.locator('li[data-env="ui-build"] a').click();
      await expect.poll(() => page.locator("#image-state").textContent()).toBe("not built yet");
      await page.getByRole("button", { name: "Build image" }).click();
      await page.getByRole("heading", { name: /^Build / }).waitFor();
      expect(page.url()).toMatch(/#\/builds\/[A-Za-z0-9_-]+$/);
      await expect
        .poll(() => page.locator("#build-status").textContent(), { timeout: 120_000, interval: 250 })
        .toBe("succeeded");
      const log = (await page.locator("#build-log").textContent()) ?? "";
      expect(log).toMatch(/Step 1\/\d+ : FROM /);
      const image = (await page.locator("#build-outcome dd").first().textContent()) ?? "";
      expect(image).toMatch(/mlenv\/env_[0-9a-f]+:latest$/);
      images.add(image);
      expect(await page.locator("#build-outcome").textContent()).toContain("missed: built now");
      await page.screenshot({ path: join(ARTIFACTS, "build-desktop.png"), fullPage: true });
      expect(await axeViolations(page)).toEqual([]);

      // The environment page now finds the image on the engine.
      await page.getByRole("link", { name: "ui-build v1" }).click();
      await expect.poll(() => page.locator("#image-state").textContent()).toBe("built (in the local engine)");
      expect(await page.getByRole("button", { name: "Rebuild image" }).count()).toBe(1);
    }, 180_000);

    it("streams a running build's log live and shows where a failed build failed", async () => {
      await page.goto(`${url}/#/env/ui-fails`);
      await page.getByRole("button", { name: "Build image" }).click();
      await page.getByRole("heading", { name: /^Build / }).waitFor();
      // The first tick arrives while the step still runs (it sleeps 4 s in total).
      await expect
        .poll(() => page.locator("#build-log").textContent(), { timeout: 60_000, interval: 100 })
        .toContain("tick-1");
      expect(await page.locator("#build-status").textContent()).toBe("running");
      expect(await page.locator("#build-log").textContent()).not.toContain("tick-4");
      await expect
        .poll(() => page.locator("#build-status").textContent(), { timeout: 120_000, interval: 250 })
        .toBe("failed");
      const error = (await page.locator("#build-error").textContent()) ?? "";
      expect(error).toMatch(/Failed at step \d+(\/\d+)?: RUN for i in 1 2 3 4/);
      const log = (await page.locator("#build-log").textContent()) ?? "";
      expect(log).toContain("tick-4");
      expect(log).toContain(run);
      await auditDesktopAndPhone(page, ARTIFACTS, "build-failed");
    }, 180_000);
  },
);
