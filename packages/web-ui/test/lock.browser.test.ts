import { definitionHash, type Lock, parseDefinition } from "@mlenv/core";
import { startServer } from "@mlenv/server";
import { apiClient, chromiumMissing, skipWithout, startTestServer, type TestServer } from "@mlenv/test-utils";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPage, signIn } from "./chromiumPage";

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
  let page: Page;
  let closePage: () => Promise<void>;

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
    ({ page, close: closePage } = await openPage(srv.url));
    await signIn(page, srv.url, srv.token);
  }, 120_000);

  afterAll(async () => {
    await closePage?.();
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
