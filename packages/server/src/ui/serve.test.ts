import { startTestServer, type TestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../server";

describe("web UI routes", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer(startServer);
  });
  afterAll(() => srv?.stop());

  it("serves the page at / with a strict content security policy and no workspace data", async () => {
    const res = await fetch(`${srv.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'none'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/ui/app.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/ui/app.css">');
    expect(html).not.toContain("mlenv-minimal"); // seeded curated env: only shown after login
  });

  it("bundles the app (Preact, sdk, core) once and answers conditional requests with 304", async () => {
    const first = await fetch(`${srv.url}/ui/app.js`);
    expect(first.status).toBe(200);
    expect(first.headers.get("content-type")).toMatch(/^text\/javascript/);
    const js = await first.text();
    expect(js.length).toBeGreaterThan(10_000);
    expect(js).toContain("mlenv.token"); // the session key of the app
    expect(js).toContain("mlenv1-sha256"); // core's hashing came along
    expect(js).not.toMatch(/from\s*["']node:/);
    const etag = first.headers.get("etag");
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${srv.url}/ui/app.js`, { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    // Compressed for clients that accept gzip (undici decodes it transparently).
    const zipped = await fetch(`${srv.url}/ui/app.js`, { headers: { "accept-encoding": "gzip" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(await zipped.text()).toBe(js);
    const css = await fetch(`${srv.url}/ui/app.css`);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(await css.text()).toContain("@media (max-width: 480px)");
  });

  it("leaves the API, health and OpenAPI routes as they were", async () => {
    const health = await fetch(`${srv.url}/healthz`);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const api = await fetch(`${srv.url}/api/v1/environments`);
    expect(api.status).toBe(401);
    expect(await api.json()).toMatchObject({ code: "E_UNAUTHENTICATED" });
    const openapi = await fetch(`${srv.url}/openapi.json`);
    expect((await openapi.json()).openapi).toMatch(/^3\.1/);
    const missing = await fetch(`${srv.url}/ui/nope.js`);
    expect(missing.status).toBe(404);
  });
});
