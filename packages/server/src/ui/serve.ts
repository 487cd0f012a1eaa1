import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Env, Hono } from "hono";
import { uiPage } from "./page";
import { uiStyles } from "./styles";

/** A built asset with its strong ETag and a gzipped copy. */
interface Asset {
  body: string;
  gzip: Uint8Array<ArrayBuffer>;
  etag: string;
}

function asset(body: string): Asset {
  return {
    body,
    gzip: new Uint8Array(gzipSync(body, { level: 9 })),
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
  };
}

/** Source entry of the browser app (present when running from source). */
const sourceEntry = fileURLToPath(new URL("./app/main.ts", import.meta.url));
/** Prebuilt bundle next to the built server (dist/ui/app.js, written by buildAssets). */
const prebuilt = fileURLToPath(new URL("./ui/app.js", import.meta.url));

/**
 * Bundle the browser app (Preact + @mlenv/sdk + @mlenv/core, from source) with esbuild into one
 * minified ES module. Used at server start from source and by the package build.
 */
export async function bundleUi(): Promise<string> {
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [sourceEntry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["@mlenv/source"],
    write: false,
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error("Expected esbuild to emit the web UI bundle; it emitted no file");
  return file.text;
}

let appJs: Promise<Asset> | null = null;

/** The app bundle: the prebuilt file when the server runs from dist, else bundled once and kept in memory. */
function loadAppJs(): Promise<Asset> {
  if (!appJs) {
    appJs = (existsSync(prebuilt) ? Promise.resolve(readFileSync(prebuilt, "utf8")) : bundleUi()).then(asset);
    appJs.catch(() => {
      appJs = null; // let the next request retry
    });
  }
  return appJs;
}

const page = asset(uiPage());
const css = asset(uiStyles);

const pageHeaders = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

function serveAsset(req: { header(name: string): string | undefined }, a: Asset, type: string): Response {
  const headers: Record<string, string> = {
    "content-type": type,
    etag: a.etag,
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    vary: "accept-encoding",
  };
  if (req.header("if-none-match") === a.etag) return new Response(null, { status: 304, headers });
  if (/\bgzip\b/.test(req.header("accept-encoding") ?? "")) {
    headers["content-encoding"] = "gzip";
    return new Response(a.gzip, { headers });
  }
  return new Response(a.body, { headers });
}

/**
 * Mount the web UI on an app: the page at `/` and its assets under `/ui/`. Nothing under `/api`,
 * `/healthz`, `/openapi.json` or `/simple` is touched. From source, the app is bundled on the first
 * request for it and kept in memory.
 */
export function mountUi<E extends Env>(app: Hono<E>): void {
  app.get("/", () => new Response(page.body, { headers: { ...pageHeaders, etag: page.etag } }));
  app.get("/ui/app.css", (c) => serveAsset(c.req, css, "text/css; charset=utf-8"));
  app.get("/ui/app.js", async (c) => serveAsset(c.req, await loadAppJs(), "text/javascript; charset=utf-8"));
}
