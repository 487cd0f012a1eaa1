import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { type BrowserContext, chromium } from "playwright-core";

/** Debian's chromium binary used for browser tests. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Why Chromium tests cannot run here, or null when they can (pass to skipWithout("chromium", ...)). */
export const chromiumMissing: string | null = existsSync(CHROMIUM_PATH)
  ? null
  : `${CHROMIUM_PATH} not found (apt-get install chromium)`;

const PAGE_URL = "http://127.0.0.1/__mlenv_test__";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface BundleOptions {
  /** Module to bundle (absolute path), or `contents` with `resolveDir`. */
  entry?: string;
  contents?: string;
  resolveDir?: string;
  /** Global the bundle's exports are assigned to (default `__bundle`). */
  globalName?: string;
  /** Export conditions; default ["@mlenv/source", "browser", "import", "default"]. */
  conditions?: string[];
  minify?: boolean;
}

/** Bundle a module for the browser (IIFE assigning its exports to `globalName`). */
export async function bundleForBrowser(options: BundleOptions): Promise<string> {
  const result = await build({
    ...(options.entry
      ? { entryPoints: [options.entry] }
      : {
          stdin: {
            contents: options.contents ?? "",
            resolveDir: options.resolveDir ?? process.cwd(),
            loader: "ts",
            sourcefile: "entry.ts",
          },
        }),
    bundle: true,
    write: false,
    format: "iife",
    globalName: options.globalName ?? "__bundle",
    platform: "browser",
    target: "es2022",
    conditions: options.conditions ?? ["@mlenv/source", "browser", "import", "default"],
    minify: options.minify ?? false,
    logLevel: "silent",
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error("esbuild produced no output");
  return out.text;
}

export interface BrowserRun<T> {
  /** Result of the expression, passed through JSON. */
  value: T;
  /** Messages the page logged to its console. */
  console: string[];
  userAgent: string;
}

/**
 * Bundle `options` with esbuild and evaluate it in a fresh headless Chromium profile (no network:
 * the page is fulfilled in-process and every other request is aborted), then evaluate `expression` (a JS expression; the bundle's exports are
 * on `globalThis[globalName]`). Returns the expression's JSON-serialisable value.
 */
export async function evaluateInChromium<T>(
  options: BundleOptions & { expression: string },
): Promise<BrowserRun<T>> {
  const code = await bundleForBrowser(options);
  const userDataDir = mkdtempSync(join(tmpdir(), "mlenv-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    // The page is served by the route handler itself (no socket is opened); 127.0.0.1 makes it a
    // secure context, so WebCrypto is available. Every other request is aborted.
    await context.route("**/*", (route) =>
      route.request().url() === PAGE_URL
        ? route.fulfill({
            status: 200,
            contentType: "text/html",
            body: "<!doctype html><title>mlenv test</title>",
          })
        : route.abort(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(PAGE_URL);
    const logs: string[] = [];
    page.on("console", (m) => logs.push(m.text()));
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.addScriptTag({ content: code });
    if (errors.length > 0) throw new Error(`bundle failed in Chromium: ${errors.join("; ")}`);
    const value = (await page.evaluate(
      `(async () => JSON.stringify(await (${options.expression})))()`,
    )) as string;
    const userAgent = (await page.evaluate("navigator.userAgent")) as string;
    return { value: JSON.parse(value) as T, console: logs, userAgent };
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

/**
 * A headless Chromium profile in `profile` that reaches only `origin`: every other request is
 * aborted (and passed to `onRefused`, when given). The profile folder is the caller's to remove.
 */
export async function openChromium(options: {
  profile: string;
  origin: string;
  viewport?: { width: number; height: number };
  acceptDownloads?: boolean;
  onRefused?: (url: string) => void;
}): Promise<BrowserContext> {
  const context = await chromium.launchPersistentContext(options.profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    ...(options.viewport ? { viewport: options.viewport } : {}),
    ...(options.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(`${options.origin}/`)) return route.continue();
    options.onRefused?.(url);
    return route.abort();
  });
  return context;
}
