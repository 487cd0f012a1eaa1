import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import { loadWebUi } from "@mlenv/web-ui";
import type { Env, Hono } from "hono";

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

let assets: Promise<{ page: Asset; css: Asset; js: Asset }> | null = null;

/** The web UI's files (@mlenv/web-ui: its prebuilt bundle, or its sources bundled once from source). */
function loadAssets(): Promise<{ page: Asset; css: Asset; js: Asset }> {
  if (!assets) {
    assets = loadWebUi().then((ui) => ({ page: asset(ui.html), css: asset(ui.css), js: asset(ui.js) }));
    assets.catch(() => {
      assets = null; // let the next request retry
    });
  }
  return assets;
}

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
 * `/healthz`, `/openapi.json` or `/simple` is touched. The files come from @mlenv/web-ui on the first
 * request (from source, that bundles the app) and are kept in memory.
 */
export function mountUi<E extends Env>(app: Hono<E>): void {
  app.get("/", async () => {
    const { page } = await loadAssets();
    return new Response(page.body, { headers: { ...pageHeaders, etag: page.etag } });
  });
  app.get("/ui/app.css", async (c) => serveAsset(c.req, (await loadAssets()).css, "text/css; charset=utf-8"));
  app.get("/ui/app.js", async (c) =>
    serveAsset(c.req, (await loadAssets()).js, "text/javascript; charset=utf-8"),
  );
}
