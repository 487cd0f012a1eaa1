import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer } from "@mlenv/server";
import {
  apiClient,
  chromiumMissing,
  skipWithout,
  snapshotFiles,
  startTestServer,
  type TestServer,
  venvMissing,
} from "@mlenv/test-utils";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditDesktopAndPhone, axeViolations } from "./axeAudit";
import { openPage, signIn } from "./chromiumPage";

const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/ui/", import.meta.url));

const SCORE = `
import json, os
model = None

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)
    print("model loaded")

def run(raw_data):
    data = json.loads(raw_data)
    return {"result": [model["weight"] * x for x in data["data"]]}
`;

const TRAIN = `
import json, os, sys, time
import mlenv_run
print("training with", sys.argv[1:])
for i, loss in enumerate([0.9, 0.4, 0.2, 0.1]):
    mlenv_run.log("loss", loss)
    mlenv_run.log("accuracy", 0.5 + i / 10)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"weight": 3.0}, f)
print("finished", file=sys.stderr)
`;

describe.skipIf(skipWithout("chromium", chromiumMissing) || skipWithout("python3-venv", venvMissing()))(
  "web UI runs in Chromium",
  () => {
    let srv: TestServer;
    let page: Page;
    let closePage: () => Promise<void>;
    let runId: string;

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      srv = await startTestServer(startServer);
      const api = apiClient(srv.url, srv.token);
      expect((await api("POST", "/api/v1/environments", { definition: { name: "train-ui" } })).status).toBe(
        201,
      );
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "train.py": TRAIN }) });
      expect(snap.status).toBe(201);
      const sub = await api("POST", "/api/v1/runs", {
        experiment: "ui-demo",
        script: "train.py",
        arguments: ["--epochs", "4"],
        snapshot: snap.json.id,
        environment: { name: "train-ui" },
      });
      expect(sub.status, JSON.stringify(sub.json)).toBe(201);
      runId = sub.json.id;
      ({ page, close: closePage } = await openPage(srv.url, {
        viewport: { width: 1280, height: 900 },
        acceptDownloads: true,
      }));
    }, 180_000);

    afterAll(async () => {
      await closePage?.();
      await srv?.stop();
    });

    it("lists runs and shows a run's status, log, metric charts and outputs", async () => {
      await signIn(page, srv.url, srv.token);
      await page.getByRole("link", { name: "Runs", exact: true }).click();
      const row = page.locator(`tr[data-run="${runId}"]`);
      await row.waitFor();
      expect(await row.locator("td").nth(2).textContent()).toBe("train-ui v1");
      await row.getByRole("link", { name: "ui-demo #1" }).click();
      await page.getByRole("heading", { name: "ui-demo #1" }).waitFor();
      await expect
        .poll(() => page.locator("#run-status").textContent(), { timeout: 150_000, interval: 300 })
        .toBe("completed");
      // the Status row: the badge, then the exit code
      await expect
        .poll(() => page.locator("dd:has(#run-status)").textContent())
        .toBe("completed (exit code 0)");
      await expect
        .poll(() => page.locator("#run-log").textContent())
        .toContain("training with ['--epochs', '4']");
      expect(await page.locator("#run-log").textContent()).toContain("! finished");
      const loss = page.locator('figure[data-metric="loss"]');
      await expect.poll(() => loss.locator("circle").count()).toBe(4);
      expect(await loss.locator("figcaption").textContent()).toBe("loss — last 0.1 at step 3");
      expect(await page.locator('figure[data-metric="accuracy"] circle').count()).toBe(4);
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download outputs/model.json" }).click(),
      ]);
      const file = await download.path();
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ weight: 3 });
      await auditDesktopAndPhone(page, ARTIFACTS, "run");
    }, 200_000);

    it("shows a deployed service's status, scoring URL and log", async () => {
      const api = apiClient(srv.url, srv.token);
      const model = await api("POST", "/api/v1/models", {
        name: "triple",
        files: snapshotFiles({ "model.json": JSON.stringify({ weight: 3 }) }),
      });
      expect(model.status).toBe(201);
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": SCORE }) });
      const dep = await api("POST", "/api/v1/services", {
        name: "triple-svc",
        model: { name: "triple" },
        entryScript: "score.py",
        snapshot: snap.json.id,
        environment: { name: "train-ui" },
      });
      expect(dep.status, JSON.stringify(dep.json)).toBe(201);
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.getByRole("link", { name: "Services", exact: true }).click();
      await page.locator('li[data-service="triple-svc"]').waitFor();
      await page.locator('li[data-service="triple-svc"] a').click();
      await expect
        .poll(() => page.locator("#service-status").textContent(), { timeout: 120_000, interval: 300 })
        .toBe("healthy");
      const scoreUrl = (await page.locator("#service-url").textContent()) ?? "";
      expect(scoreUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/v1\/services\/triple-svc\/score$/);
      // The shown address really scores, with a token of the workspace.
      const scored = await fetch(scoreUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${srv.token}` },
        body: JSON.stringify({ data: [1, 2] }),
      });
      expect(await scored.json()).toEqual({ result: [3, 6] });
      await expect
        .poll(() => page.locator("#service-log").textContent(), { timeout: 30_000 })
        .toContain("model loaded");
      // The page's scoring form goes through the server (the worker's port is another origin).
      const body = page.getByLabel(/Request body \(JSON\)/);
      await body.fill('{"data": [1, 2');
      await page.getByRole("button", { name: "Score" }).click();
      await expect.poll(() => page.locator("#score-input-error").textContent()).toMatch(/^Expected JSON/);
      expect(await body.getAttribute("aria-invalid")).toBe("true");
      expect(await page.locator("#score-answer").count()).toBe(0);
      await body.fill('{"data": [1, 2, 5]}');
      await page.getByRole("button", { name: "Score" }).click();
      await page.getByRole("heading", { name: "Answer: HTTP 200" }).waitFor();
      expect(JSON.parse((await page.locator("#score-answer").textContent()) ?? "")).toEqual({
        result: [3, 6, 15],
      });
      expect(await page.locator("#score-input-error").count()).toBe(0);
      await page.screenshot({ path: join(ARTIFACTS, "service-desktop.png"), fullPage: true });
      expect(await axeViolations(page)).toEqual([]);
      await page.getByRole("button", { name: "Delete service" }).click();
      await page.getByRole("heading", { name: "Services" }).waitFor();
      await expect.poll(() => page.locator('li[data-service="triple-svc"]').count()).toBe(0);
    }, 200_000);
  },
);
