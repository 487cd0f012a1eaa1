import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openChromium } from "@mlenv/test-utils";
import type { BrowserContext, Page } from "playwright-core";

/** A headless Chromium page of its own profile; `close` closes it and removes the profile. */
export interface ChromiumPage {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A fresh Chromium profile that reaches only `origin` (see openChromium) and its first page. */
export async function openPage(
  origin: string,
  options: Omit<Parameters<typeof openChromium>[0], "profile" | "origin"> = {},
): Promise<ChromiumPage> {
  const profile = mkdtempSync(join(tmpdir(), "mlenv-ui-chromium-"));
  const removeProfile = () => rmSync(profile, { recursive: true, force: true });
  let context: BrowserContext | undefined;
  const close = async () => {
    try {
      await context?.close();
    } finally {
      removeProfile();
    }
  };
  try {
    context = await openChromium({ profile, origin, ...options });
    return { context, page: context.pages()[0] ?? (await context.newPage()), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** Open the app at `origin` and sign in with `token`. */
export async function signIn(page: Page, origin: string, token: string): Promise<void> {
  await page.goto(`${origin}/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}
