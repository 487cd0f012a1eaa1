import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { definitionHash, type Lock, parseDefinition } from "@mlenv/core";
import { startServer } from "@mlenv/server";
import {
  apiClient,
  chromiumMissing,
  openChromium,
  skipWithout,
  startTestServer,
  type TestServer,
} from "@mlenv/test-utils";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const def = (name: string, pip: string) => ({
  name,
  python: {
    condaDependencies: { channels: ["conda-forge"], dependencies: ["python=3.11", "pip", { pip: [pip] }] },
  },
});

function lockOf(d: Record<string, unknown>): Lock {
  return {
    lockVersion: 1,
    definitionHash: definitionHash(parseDefinition(d)),
    channels: [],
    indexes: [],
    platforms: {
      "linux-64": {
        conda: [],
        pip: [
          {
            name: "requests",
            version: "2.32.3",
            url: "http://127.0.0.1:1/simple/requests/requests-2.32.3-py3-none-any.whl",
            sha256: "b".repeat(64),
            requires: [],
          },
        ],
      },
    },
  };
}

describe.skipIf(skipWithout("chromium", chromiumMissing))("web UI Lock tab in Chromium", () => {
  let srv: TestServer;
  let context: BrowserContext;
  let page: Page;
  let profile: string;

  beforeAll(async () => {
    srv = await startTestServer(startServer);
    const api = apiClient(srv.url, srv.token);
    const locked = def("ui-locked", "requests");
    expect(
      (await api("POST", "/api/v1/environments", { definition: locked, lock: lockOf(locked) })).status,
    ).toBe(201);
    expect(
      (await api("POST", "/api/v1/environments", { definition: def("ui-loose", "requests") })).status,
    ).toBe(201);
    profile = mkdtempSync(join(tmpdir(), "mlenv-ui-chromium-"));
    context = await openChromium({ profile, origin: srv.url });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${srv.url}/`);
    await page.getByLabel("API token").fill(srv.token);
    await page.getByRole("button", { name: "Sign in" }).click();
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await srv?.stop();
  });

  it("shows the stored lock as YAML, and says when a version is unlocked", async () => {
    await page.goto(`${srv.url}/#/env/ui-locked`);
    await page.getByRole("heading", { name: "ui-locked" }).waitFor();
    await page.getByRole("tab", { name: "Lock" }).click();
    const yaml = page.getByLabel("Lock as YAML");
    await yaml.waitFor();
    const text = (await yaml.textContent()) ?? "";
    expect(text).toContain("lockVersion: 1");
    expect(text).toContain("name: requests");
    expect(text).toContain("version: 2.32.3");

    await page.goto(`${srv.url}/#/env/ui-loose`);
    await page.getByRole("heading", { name: "ui-loose" }).waitFor();
    await page.getByRole("tab", { name: "Lock" }).click();
    await expect.poll(() => page.getByRole("tabpanel").textContent()).toContain("This version is unlocked");
  });
});
