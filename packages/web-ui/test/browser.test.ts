import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { definitionHash, loadDefinitionFile } from "@mlenv/core";
import { startServer } from "@mlenv/server";
import { chromiumMissing, skipWithout, startTestServer, type TestServer } from "@mlenv/test-utils";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXAMPLE } from "../src/app/newEnv";
import { axeViolations, fitsWidth } from "./axeAudit";
import { openPage } from "./chromiumPage";

const ARTIFACTS = fileURLToPath(new URL("../../../test-artifacts/ui/", import.meta.url));
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 375, height: 812 };

// the page's own example under another name
const V1 = EXAMPLE.replace("name: my-env", "name: ui-demo");
const V2 = V1.replace("numpy=1.26.4", "numpy=2.1.0").replace(
  "requests==2.32.3",
  "requests==2.32.3\n      - tqdm==4.66.5",
);
const BROKEN = V1.replace("  - numpy=1.26.4\n", "  - numpy=1.26.4\n  - python=3.10\n");

describe.skipIf(skipWithout("chromium", chromiumMissing))(
  "web UI in Chromium",
  () => {
    let srv: TestServer;
    let context: BrowserContext;
    let page: Page;
    let closePage: () => Promise<void>;
    const pageErrors: string[] = [];
    const offOrigin: string[] = [];

    const consoleErrors: string[] = [];
    /** Run axe-core (WCAG 2.x A/AA rules) on the current page; serious or critical findings fail. */
    const audit = async (name: string) => {
      expect(await axeViolations(page), `accessibility violations on ${name}`).toEqual([]);
    };
    const shot = async (name: string) => {
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
      await audit(name);
    };
    const setSource = async (text: string) => {
      await page.fill("#source", text);
    };
    const noHorizontalScroll = () => fitsWidth(page);
    /** Press Register and wait for the result line to say `result`. */
    const register = async (result: string) => {
      await page.getByRole("button", { name: "Register" }).click();
      await expect.poll(() => page.locator("#register-result").textContent()).toContain(result);
    };

    beforeAll(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      srv = await startTestServer(startServer);
      // Only the test server may be reached; anything else (a CDN, a font) is recorded and refused.
      ({
        context,
        page,
        close: closePage,
      } = await openPage(srv.url, {
        viewport: DESKTOP,
        onRefused: (u) => offOrigin.push(u),
      }));
      page.on("pageerror", (e) => pageErrors.push(String(e)));
      page.on("console", (m) => {
        if (m.type() === "error") consoleErrors.push(`${m.text()} ${m.location().url}`);
      });
    }, 120_000);

    afterAll(async () => {
      await closePage?.();
      await srv?.stop();
    });

    it("shows nothing of the workspace without a token and rejects bad tokens", async () => {
      await page.goto(`${srv.url}/`);
      await page.getByRole("heading", { name: "Sign in to mlenv" }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("page-title");
      expect(await page.content()).not.toContain("mlenv-minimal");
      await page.getByLabel("API token").fill("not-a-token");
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect
        .poll(() => page.locator("#login-error").textContent())
        .toContain("Expected a token like mlenv_");
      await page.getByLabel("API token").fill(`mlenv_${"A".repeat(43)}`);
      await page.keyboard.press("Enter");
      await expect
        .poll(() => page.locator("#login-error").textContent())
        .toContain("does not know this token");
      await shot("login-desktop");
      expect(await page.evaluate(() => sessionStorage.getItem("mlenv.token"))).toBeNull();
    });

    it("logs in, lists the curated environments and searches them", async () => {
      await page.getByLabel("API token").fill(srv.token);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("heading", { name: "Environments" }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("mlenv.token"))).toBe(srv.token);
      await expect.poll(() => page.locator("#whoami").textContent()).toContain("default");
      const minimal = page.locator('li[data-env="mlenv-minimal"]');
      await minimal.waitFor();
      expect(await minimal.locator(".badge.curated").textContent()).toBe("curated");
      expect(await minimal.locator(".badge", { hasText: /^v\d+$/ }).count()).toBe(1);
      expect(await page.getByRole("main").count()).toBe(1);
      expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(1);
      await page.getByLabel("Search environments").fill("tutorial");
      await expect.poll(() => page.locator("ul.envs > li").count()).toBe(1);
      expect(await page.locator("ul.envs > li").getAttribute("data-env")).toBe("mlenv-tutorial");
      await page.getByLabel("Search environments").fill("");
      await expect.poll(() => page.locator("ul.envs > li").count()).toBe(2);
      await shot("environments-desktop");
    });

    it("validates pasted YAML as you type, with located errors, and registers it with the server's hash", async () => {
      await page.getByRole("link", { name: "New environment" }).first().click();
      await page.getByRole("heading", { name: "New environment" }).waitFor();
      await setSource(BROKEN);
      const issues = page.locator("ul.issues li.error");
      await expect.poll(() => issues.count()).toBeGreaterThan(0);
      expect(await issues.first().textContent()).toMatch(/E_PYTHON_MULTIPLE/);
      expect(await page.locator("#issues-title").textContent()).toMatch(/^1 error/);
      expect(await page.getByRole("button", { name: "Register" }).isDisabled()).toBe(true);
      // Warnings carry their line; clicking one selects that line in the editor.
      await setSource(V1.replace("numpy=1.26.4", "numpy"));
      const unpinned = page.locator("ul.issues li.warning button", { hasText: "W_UNPINNED" });
      await expect.poll(() => unpinned.textContent()).toMatch(/^line 6/);
      await unpinned.click();
      expect(
        await page.evaluate(() => {
          const a = document.getElementById("source") as HTMLTextAreaElement;
          return a.value.slice(a.selectionStart, a.selectionEnd);
        }),
      ).toBe("  - numpy");

      await setSource(V1);
      await page.getByLabel("Tags").fill("team=vision, demo");
      await page.getByLabel("Description").fill("made in the browser");
      const expected = definitionHash(loadDefinitionFile("environment.yml", V1).definition);
      await expect.poll(() => page.locator("#local-hash").textContent()).toBe(expected);
      expect(await page.locator("#issues-title").textContent()).toMatch(/0 errors|No problems/);
      await shot("new-environment-desktop");
      await register("Registered ui-demo version 1");
      expect(await page.locator("#server-hash").textContent()).toBe(expected);
      expect(await page.locator("#hash-verdict").textContent()).toContain(
        "equals the hash computed in this browser",
      );
      const api = await fetch(`${srv.url}/api/v1/environments/ui-demo`, {
        headers: { authorization: `Bearer ${srv.token}` },
      });
      const v1 = (await api.json()) as {
        version: number;
        definitionHash: string;
        tags: Record<string, string>;
      };
      expect(v1).toMatchObject({ version: 1, definitionHash: expected, tags: { team: "vision", demo: "" } });

      // The second version: a changed numpy pin and one more pip package.
      await setSource(V2);
      const expected2 = definitionHash(loadDefinitionFile("environment.yml", V2).definition);
      await expect.poll(() => page.locator("#local-hash").textContent()).toBe(expected2);
      await register("Registered ui-demo version 2");
      expect(await page.locator("#server-hash").textContent()).toBe(expected2);
    });

    it("shows the environment's timeline, definition views and Dockerfile, and diffs two versions", async () => {
      await page.getByRole("link", { name: "Open it" }).click();
      await page.getByRole("heading", { name: "ui-demo" }).waitFor();
      expect(await page.evaluate(() => document.activeElement?.id)).toBe("page-title");
      const timeline = page.locator("ol.timeline > li > a");
      await expect.poll(() => timeline.allTextContents()).toEqual(["v2", "v1"]);
      expect(await page.locator('ol.timeline a[aria-current="page"]').textContent()).toBe("v2");
      expect(await page.getByRole("tabpanel").textContent()).toContain("numpy=2.1.0");
      // Keyboard: arrow right moves from YAML to JSON.
      await page.getByRole("tab", { name: "YAML" }).focus();
      await page.keyboard.press("ArrowRight");
      expect(await page.getByRole("tab", { name: "JSON" }).getAttribute("aria-selected")).toBe("true");
      expect(await page.getByRole("tabpanel").textContent()).toContain('"condaDependencies"');
      await page.getByRole("tab", { name: "Dockerfile" }).click();
      const dockerfile = (await page.getByRole("tabpanel").textContent()) ?? "";
      expect(dockerfile).toMatch(/^FROM /m);
      expect(dockerfile).toContain("dev.mlenv.definition-hash");
      await shot("environment-desktop");

      await page.getByLabel("From version").selectOption("1");
      await page.getByLabel("To version").selectOption("2");
      await page.getByRole("button", { name: "Compare" }).click();
      await page.getByRole("heading", { name: "Compare v1 and v2" }).waitFor();
      const changed = page.locator('table.diff tr[data-kind="changed"]');
      await expect.poll(() => changed.count()).toBeGreaterThan(0);
      const changedText = (await changed.allTextContents()).join("\n");
      expect(changedText).toContain("numpy=1.26.4");
      expect(changedText).toContain("numpy=2.1.0");
      const added = (await page.locator('table.diff tr[data-kind="added"]').allTextContents()).join("\n");
      expect(added).toContain("tqdm==4.66.5");
      expect(await page.locator("#diff-summary").textContent()).toMatch(/^\d+ changed lines?$/);
      // The server's structured diff (core's diffDefinitions): one changed conda pin, one added pip package.
      const numpy = page.locator('#change-summary tr[data-change="changed"]', { hasText: "numpy" });
      expect(await numpy.locator("td").allTextContents()).toEqual([
        "conda",
        "changed",
        "numpy=1.26.4",
        "numpy=2.1.0",
      ]);
      const tqdm = page.locator('#change-summary tr[data-change="added"]', { hasText: "tqdm" });
      expect(await tqdm.locator("td").allTextContents()).toEqual(["pip", "added", "—", "tqdm==4.66.5"]);
      await shot("diff-desktop");
      // Same version on both sides: identical.
      await page.getByLabel("From version").selectOption("2");
      await expect.poll(() => page.locator("#diff-summary").textContent()).toContain("identical");
      expect(await page.locator("#change-summary").textContent()).toBe("No differences in the definitions.");
    });

    it("takes an uploaded requirements.txt, detects its format and registers it", async () => {
      await page.goto(`${srv.url}/#/new`);
      await page.getByRole("heading", { name: "New environment" }).waitFor();
      await page.getByLabel("Upload a file").setInputFiles({
        name: "requirements.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("requests==2.32.3\nnumpy>=1.26\n"),
      });
      await expect.poll(() => page.getByLabel("Format").inputValue()).toBe("requirements");
      expect(await page.getByLabel("Environment file").inputValue()).toBe("requests==2.32.3\nnumpy>=1.26\n");
      await page.getByLabel("Name (overrides the file's)").fill("web-reqs");
      await expect.poll(() => page.locator("#local-name").textContent()).toBe("web-reqs");
      const expected = definitionHash(
        loadDefinitionFile("requirements.txt", "requests==2.32.3\nnumpy>=1.26\n", { name: "web-reqs" })
          .definition,
      );
      await expect.poll(() => page.locator("#local-hash").textContent()).toBe(expected);
      await register("Registered web-reqs version 1");
      expect(await page.locator("#server-hash").textContent()).toBe(expected);
      // Registering the same content again is no new version.
      await register("Unchanged: identical to web-reqs version 1");
    });

    it("is usable at phone width", async () => {
      await page.setViewportSize(PHONE);
      await page.goto(`${srv.url}/#/env/ui-demo/diff/1/2`);
      await page.getByRole("heading", { name: "Compare v1 and v2" }).waitFor();
      await page.locator('table.diff tr[data-kind="changed"]').first().waitFor();
      expect(await noHorizontalScroll()).toBe(true);
      await shot("diff-phone");
      await page.goto(`${srv.url}/#/`);
      await page.locator('li[data-env="ui-demo"]').waitFor();
      expect(await noHorizontalScroll()).toBe(true);
      await shot("environments-phone");
      await page.goto(`${srv.url}/#/env/ui-demo`);
      await page.getByRole("tab", { name: "Dockerfile" }).waitFor();
      expect(await noHorizontalScroll()).toBe(true);
      await shot("environment-phone");
      await page.goto(`${srv.url}/#/new`);
      await page.locator("#local-hash").waitFor();
      expect(await noHorizontalScroll()).toBe(true);
      await shot("new-environment-phone");
      await page.setViewportSize(DESKTOP);
    });

    it("moves and removes labels, copies a curated environment, archives and restores", async () => {
      await page.goto(`${srv.url}/#/env/ui-demo`);
      await page.getByLabel("Label", { exact: true }).fill("production");
      await page.getByLabel("Points at").selectOption("1");
      await page.getByRole("button", { name: "Set label" }).click();
      await expect
        .poll(() => page.getByRole("status").textContent())
        .toContain("production now points at v1");
      await expect
        .poll(() => page.locator("ol.timeline > li").last().textContent())
        .toContain("(production)");
      const api = await fetch(`${srv.url}/api/v1/environments/ui-demo?label=production`, {
        headers: { authorization: `Bearer ${srv.token}` },
      });
      expect(((await api.json()) as { version: number }).version).toBe(1);
      await page.getByRole("button", { name: "Remove label production" }).click();
      await expect.poll(() => page.getByRole("status").textContent()).toContain("Label production removed");
      await expect.poll(() => page.locator("ol.timeline").textContent()).not.toContain("production");

      await page.getByRole("button", { name: "Archive" }).click();
      await expect.poll(() => page.locator("h1 .badge.archived").count()).toBe(1);
      await page.getByRole("link", { name: "Environments" }).first().click();
      await page.locator('li[data-env="mlenv-minimal"]').waitFor();
      expect(await page.locator('li[data-env="ui-demo"]').count()).toBe(0);
      await page.getByLabel("Include archived").check();
      await page.locator('li[data-env="ui-demo"]').waitFor();
      await page.locator('li[data-env="ui-demo"] a').click();
      await page.getByRole("button", { name: "Restore" }).click();
      await expect.poll(() => page.locator("h1 .badge.archived").count()).toBe(0);

      await page.goto(`${srv.url}/#/env/mlenv-minimal`);
      await page.getByText("Curated environments are read-only").waitFor();
      expect(await page.getByRole("button", { name: "Archive" }).count()).toBe(0);
      await page.getByLabel("Copy v1 as").fill("my-minimal");
      await page.getByRole("button", { name: "Copy", exact: true }).click();
      await page.getByRole("heading", { name: "my-minimal" }).waitFor();
      await expect.poll(() => page.locator("ol.timeline > li > a").allTextContents()).toEqual(["v1"]);
    });

    it("signs out with a notice when the token is revoked mid-session", async () => {
      const auth = { authorization: `Bearer ${srv.token}`, "content-type": "application/json" };
      const created = (await (
        await fetch(`${srv.url}/api/v1/tokens`, {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ name: "short-lived", role: "writer" }),
        })
      ).json()) as { id: string; token: string };
      const other = await context.newPage();
      try {
        await other.goto(`${srv.url}/`);
        await other.getByLabel("API token").fill(created.token);
        await other.getByRole("button", { name: "Sign in" }).click();
        await other.locator('li[data-env="ui-demo"]').waitFor();
        const revoked = await fetch(`${srv.url}/api/v1/tokens/${created.id}`, {
          method: "DELETE",
          headers: auth,
        });
        expect(revoked.status).toBe(204);
        await other.locator('li[data-env="ui-demo"] a').click();
        await other.getByRole("heading", { name: "Sign in to mlenv" }).waitFor();
        expect(await other.getByRole("alert").first().textContent()).toContain("no longer accepted");
        expect(await other.evaluate(() => sessionStorage.getItem("mlenv.token"))).toBeNull();
      } finally {
        await other.close();
      }
    });

    it("gives a reader token no write controls", async () => {
      const res = await fetch(`${srv.url}/api/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${srv.token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "viewer", role: "reader" }),
      });
      const reader = ((await res.json()) as { token: string }).token;
      const other = await context.newPage();
      try {
        await other.goto(`${srv.url}/#/env/ui-demo`);
        await other.getByLabel("API token").fill(reader);
        await other.getByRole("button", { name: "Sign in" }).click();
        await expect.poll(() => other.locator("#whoami").textContent()).toContain("viewer (reader)");
        await other.getByRole("heading", { name: "ui-demo" }).waitFor();
        await other.locator("ol.timeline").waitFor();
        expect(await other.getByRole("heading", { name: "Manage" }).count()).toBe(0);
        await other.getByRole("link", { name: "New environment" }).first().click();
        await other.locator("#local-hash").waitFor();
        expect(await other.getByRole("button", { name: "Register" }).isDisabled()).toBe(true);
        expect(await other.getByText("Your token is read-only").count()).toBe(1);
      } finally {
        await other.close();
      }
    });

    it("keeps the token to its tab and forgets it on sign out", async () => {
      const other = await context.newPage();
      try {
        await other.goto(`${srv.url}/#/env/ui-demo`);
        await other.getByRole("heading", { name: "Sign in to mlenv" }).waitFor();
        expect(await other.content()).not.toContain("numpy");
      } finally {
        await other.close();
      }
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("heading", { name: "Sign in to mlenv" }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem("mlenv.token"))).toBeNull();
      expect(pageErrors.join("\n")).toBe("");
      // Only the expected failed requests may log errors (never CSP): the bad-token sign-ins,
      // and the image look-up, which answers 404 when this server has no build routes mounted.
      expect(
        consoleErrors.filter((m) => !/status of 401/.test(m) && !/status of 404 .*\/image\?version=/.test(m)),
      ).toEqual([]);
      expect(offOrigin).toEqual([]);
    });
  },
  180_000,
);
