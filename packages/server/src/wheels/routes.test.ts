import { readdirSync } from "node:fs";
import { buildWheel, startTestServer } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";
import { startServer } from "../server";

let srv: WheelTestServer;
beforeAll(async () => {
  srv = await startWheelTestServer({ limits: { maxBytes: 64 * 1024 } });
});
afterAll(async () => {
  await srv?.close();
});

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

async function upload(
  filename: string,
  bytes: Uint8Array<ArrayBuffer>,
  opts: { overwrite?: boolean; token?: string } = {},
) {
  const res = await fetch(
    `${srv.url}/upload/v1/wheels/${encodeURIComponent(filename)}${opts.overwrite ? "?overwrite=true" : ""}`,
    {
      method: "PUT",
      headers: { ...auth(opts.token ?? srv.token), "content-type": "application/octet-stream" },
      body: bytes,
    },
  );
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

function blobCount(): number {
  try {
    return readdirSync(srv.blobDir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile())
      .length;
  } catch {
    return 0;
  }
}

describe("wheel API over HTTP", () => {
  const v1 = buildWheel({ name: "alpha", version: "1.0", requiresPython: ">=3.8" });

  it("uploads, returns a stable reference, and accepts the same bytes again", async () => {
    const first = await upload(v1.filename, v1.bytes);
    expect(first.status).toBe(201);
    expect(first.body.status).toBe("created");
    expect(first.body.wheel.reference).toBe(`mlenv+wheel://default/${v1.filename}#sha256=${v1.sha256}`);
    expect(first.body.wheel.requiresPython).toBe(">=3.8");
    const again = await upload(v1.filename, v1.bytes);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("unchanged");
    expect(again.body.wheel.revision).toBe(1);
  });

  it("refuses different bytes under an existing name unless overwrite, and keeps the old bytes", async () => {
    const changed = buildWheel({
      name: "alpha",
      version: "1.0",
      requiresPython: ">=3.8",
      files: { "alpha/__init__.py": "VALUE = 'changed'\n" },
    });
    expect(changed.filename).toBe(v1.filename);
    const refused = await upload(changed.filename, changed.bytes);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("E_WHEEL_EXISTS");
    expect(refused.body.details.existingSha256).toBe(v1.sha256);

    const replaced = await upload(changed.filename, changed.bytes, { overwrite: true });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ status: "replaced", previous: { revision: 1, sha256: v1.sha256 } });
    expect(replaced.body.wheel.revision).toBe(2);

    const show = await (
      await fetch(`${srv.url}/api/v1/wheels/${v1.filename}`, { headers: auth(srv.readerToken) })
    ).json();
    expect(show.revisions.map((r: { sha256: string }) => r.sha256)).toEqual([v1.sha256, changed.sha256]);
    const oldBytes = await fetch(`${srv.url}/api/v1/wheels/${v1.filename}/download?sha256=${v1.sha256}`, {
      headers: auth(srv.readerToken),
    });
    expect(new Uint8Array(await oldBytes.arrayBuffer())).toEqual(v1.bytes);
    const current = await fetch(`${srv.url}/api/v1/wheels/${v1.filename}/download`, {
      headers: auth(srv.readerToken),
    });
    expect(new Uint8Array(await current.arrayBuffer())).toEqual(changed.bytes);

    // A pinned old reference still resolves to the old bytes.
    const resolved = await (
      await fetch(`${srv.url}/api/v1/wheels/resolve`, {
        method: "POST",
        headers: { ...auth(srv.readerToken), "content-type": "application/json" },
        body: JSON.stringify({ reference: `mlenv+wheel://default/${v1.filename}#sha256=${v1.sha256}` }),
      })
    ).json();
    expect(resolved.sha256).toBe(v1.sha256);
    expect(new Uint8Array(await (await fetch(resolved.url)).arrayBuffer())).toEqual(v1.bytes);
  });

  it("lists wheels, and needs a writer token to upload", async () => {
    const list = await (await fetch(`${srv.url}/api/v1/wheels`, { headers: auth(srv.readerToken) })).json();
    expect(list.items.map((w: { filename: string }) => w.filename)).toEqual([v1.filename]);
    const b = buildWheel({ name: "beta", version: "1.0" });
    const denied = await upload(b.filename, b.bytes, { token: srv.readerToken });
    expect(denied.status).toBe(403);
    const anon = await fetch(`${srv.url}/api/v1/wheels`);
    expect(anon.status).toBe(401);
  });

  it("keeps workspaces apart", async () => {
    const list = await (await fetch(`${srv.url}/api/v1/wheels`, { headers: auth(srv.otherToken) })).json();
    expect(list.items).toEqual([]);
    const index = await fetch(`${srv.url}/pypi/default/simple/`, { headers: auth(srv.otherToken) });
    expect(index.status).toBe(404);
    const show = await fetch(`${srv.url}/api/v1/wheels/${v1.filename}`, { headers: auth(srv.otherToken) });
    expect(show.status).toBe(404);
  });

  describe("hostile uploads are refused with no state left behind", () => {
    const cases: Array<[string, () => { filename: string; bytes: Uint8Array<ArrayBuffer> }, number, string]> =
      [
        [
          "too large",
          () =>
            buildWheel({
              name: "big",
              version: "1.0",
              level: 0,
              files: {
                "big/x.bin": crypto.getRandomValues(new Uint8Array(60_000)).map((x) => x),
                "big/y.bin": new Uint8Array(10_000).fill(7),
              },
            }),
          413,
          "E_WHEEL_TOO_LARGE",
        ],
        [
          "zip bomb",
          () =>
            buildWheel({
              name: "bomb",
              version: "1.0",
              level: 9,
              files: { "bomb/z.bin": new Uint8Array(4 * 1024 * 1024) },
            }),
          400,
          "E_WHEEL_ZIP_BOMB",
        ],
        [
          "path traversal",
          () =>
            buildWheel({
              name: "trav",
              version: "1.0",
              mutate: (m) => {
                m["../../etc/evil.py"] = new Uint8Array([1]);
              },
            }),
          400,
          "E_WHEEL_UNSAFE_MEMBER",
        ],
        [
          "not a zip",
          () => ({
            filename: "junk-1.0-py3-none-any.whl",
            bytes: new TextEncoder().encode("not a zip at all, just text".repeat(3)),
          }),
          400,
          "E_WHEEL_NOT_ZIP",
        ],
        [
          "name mismatch",
          () => ({
            filename: "gamma-1.0-py3-none-any.whl",
            bytes: buildWheel({ name: "delta", version: "1.0" }).bytes,
          }),
          400,
          "E_WHEEL_METADATA_MISMATCH",
        ],
        [
          "no RECORD",
          () =>
            buildWheel({
              name: "norec",
              version: "1.0",
              mutate: (m) => {
                delete m["norec-1.0.dist-info/RECORD"];
              },
            }),
          400,
          "E_WHEEL_METADATA_INVALID",
        ],
        [
          "shell metacharacters in the name",
          () => ({ filename: "x$(id)-1.0-py3-none-any.whl", bytes: v1.bytes }),
          400,
          "E_WHEEL_FILENAME_INVALID",
        ],
        [
          "dot-dot in the name",
          () => ({ filename: "..-1.0-py3-none-any.whl", bytes: v1.bytes }),
          400,
          "E_WHEEL_FILENAME_INVALID",
        ],
        [
          "NUL in the name",
          () => ({ filename: "x\u0000-1.0-py3-none-any.whl", bytes: v1.bytes }),
          400,
          "E_WHEEL_FILENAME_INVALID",
        ],
      ];
    it.each(cases)("%s", async (_label, make, status, code) => {
      const before = blobCount();
      const beforeList = await (await fetch(`${srv.url}/api/v1/wheels`, { headers: auth(srv.token) })).json();
      const { filename, bytes } = make();
      const res = await upload(filename, bytes);
      expect(res.status).toBe(status);
      expect(res.body.code).toBe(code);
      expect(typeof res.body.message).toBe("string");
      expect(blobCount()).toBe(before);
      const afterList = await (await fetch(`${srv.url}/api/v1/wheels`, { headers: auth(srv.token) })).json();
      expect(afterList).toEqual(beforeList);
    });

    it("a slash in the name never reaches the handler as a file name", async () => {
      const res = await fetch(`${srv.url}/upload/v1/wheels/..%2F..%2Fevil-1.0-py3-none-any.whl`, {
        method: "PUT",
        headers: auth(srv.token),
        body: v1.bytes,
      });
      expect([400, 404]).toContain(res.status);
      const body = await res.json();
      expect(["E_WHEEL_FILENAME_INVALID", "E_NOT_FOUND"]).toContain(body.code);
    });
  });

  describe("the simple index", () => {
    it("negotiates PEP 691 JSON and PEP 503 HTML with hashes, metadata and requires-python", async () => {
      const html = await fetch(`${srv.url}/pypi/default/simple/alpha/`, { headers: auth(srv.readerToken) });
      expect(html.headers.get("content-type")).toBe("text/html");
      const text = await html.text();
      const current = (
        await (
          await fetch(`${srv.url}/api/v1/wheels/${v1.filename}`, { headers: auth(srv.readerToken) })
        ).json()
      ).sha256;
      expect(text).toContain(`href="../../files/${current}/${v1.filename}#sha256=${current}"`);
      expect(text).toContain('data-requires-python="&#62;=3.8"');
      expect(text).toMatch(/data-core-metadata="sha256=[0-9a-f]{64}"/);
      expect(text).toMatch(/data-dist-info-metadata="sha256=[0-9a-f]{64}"/);

      const json = await fetch(`${srv.url}/pypi/default/simple/alpha/`, {
        headers: { ...auth(srv.readerToken), accept: "application/vnd.pypi.simple.v1+json, text/html;q=0.1" },
      });
      expect(json.headers.get("content-type")).toBe("application/vnd.pypi.simple.v1+json");
      const doc = await json.json();
      expect(doc.meta["api-version"]).toMatch(/^1\./);
      expect(doc.files[0]).toMatchObject({
        filename: v1.filename,
        hashes: { sha256: current },
        "requires-python": ">=3.8",
        yanked: false,
      });
      const metaUrl = new URL(`${doc.files[0].url}.metadata`, `${srv.url}/pypi/default/simple/alpha/`);
      const meta = await fetch(metaUrl, { headers: auth(srv.readerToken) });
      const metaText = await meta.text();
      expect(metaText).toContain("Name: alpha");
      const { createHash } = await import("node:crypto");
      expect(createHash("sha256").update(metaText).digest("hex")).toBe(doc.files[0]["core-metadata"].sha256);

      const nope = await fetch(`${srv.url}/pypi/default/simple/alpha/`, {
        headers: { ...auth(srv.readerToken), accept: "image/png" },
      });
      expect(nope.status).toBe(406);
    });

    it("redirects non-normalised project names and hides unknown ones", async () => {
      const res = await fetch(`${srv.url}/pypi/default/simple/Alpha/`, {
        headers: auth(srv.readerToken),
        redirect: "manual",
      });
      expect(res.status).toBe(301);
      expect(res.headers.get("location")).toBe("/pypi/default/simple/alpha/");
      const missing = await fetch(`${srv.url}/pypi/default/simple/nope/`, { headers: auth(srv.readerToken) });
      expect(missing.status).toBe(404);
    });

    it("accepts the token as a Basic-auth password and asks for credentials without one", async () => {
      const basic = `Basic ${Buffer.from(`__token__:${srv.readerToken}`).toString("base64")}`;
      expect(
        (await fetch(`${srv.url}/pypi/default/simple/`, { headers: { authorization: basic } })).status,
      ).toBe(200);
      const anon = await fetch(`${srv.url}/pypi/default/simple/`);
      expect(anon.status).toBe(401);
      expect(anon.headers.get("www-authenticate")).toContain("Basic");
    });

    it("marks yanked files (PEP 592) and can un-yank them", async () => {
      const y = await fetch(`${srv.url}/api/v1/wheels/${v1.filename}/yank`, {
        method: "POST",
        headers: { ...auth(srv.token), "content-type": "application/json" },
        body: JSON.stringify({ reason: 'broken "build" <b>' }),
      });
      expect((await y.json()).yanked).toBe(true);
      const text = await (
        await fetch(`${srv.url}/pypi/default/simple/alpha/`, { headers: auth(srv.readerToken) })
      ).text();
      expect(text).toContain('data-yanked="broken &#34;build&#34; &#60;b&#62;"');
      const doc = await (
        await fetch(`${srv.url}/pypi/default/simple/alpha/`, {
          headers: { ...auth(srv.readerToken), accept: "application/vnd.pypi.simple.v1+json" },
        })
      ).json();
      expect(doc.files[0].yanked).toBe('broken "build" <b>');
      await fetch(`${srv.url}/api/v1/wheels/${v1.filename}/unyank`, {
        method: "POST",
        headers: auth(srv.token),
      });
      const again = await (
        await fetch(`${srv.url}/pypi/default/simple/alpha/`, { headers: auth(srv.readerToken) })
      ).text();
      expect(again).not.toContain("data-yanked");
    });
  });

  describe("signed URLs", () => {
    async function resolve(ttlSeconds?: number) {
      const res = await fetch(`${srv.url}/api/v1/wheels/resolve`, {
        method: "POST",
        headers: { ...auth(srv.readerToken), "content-type": "application/json" },
        body: JSON.stringify({
          reference: `mlenv+wheel://default/${v1.filename}`,
          ...(ttlSeconds ? { ttlSeconds } : {}),
        }),
      });
      return (await res.json()) as { url: string; sha256: string; requirement: string; expiresAt: string };
    }

    it("serve the wheel without a token, and name it in a PEP 508 requirement", async () => {
      const r = await resolve(60);
      const res = await fetch(r.url);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
      expect(r.requirement).toBe(`alpha @ ${r.url}#sha256=${r.sha256}`);
      expect(r.url).not.toContain(srv.readerToken);
    });

    it("refuse a tampered signature or expiry", async () => {
      const u = new URL((await resolve(60)).url);
      const sig = u.searchParams.get("sig")!;
      u.searchParams.set("sig", `${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`);
      const bad = await fetch(u);
      expect(bad.status).toBe(403);
      expect((await bad.json()).code).toBe("E_SIGNATURE_INVALID");
      const later = new URL((await resolve(60)).url);
      later.searchParams.set("expires", String(Number(later.searchParams.get("expires")) + 86400));
      expect((await (await fetch(later)).json()).code).toBe("E_SIGNATURE_INVALID");
    });

    it("refuse an expired URL", async () => {
      const sha256 = (await resolve(60)).sha256;
      const { query } = srv.signer.signFor(
        { workspace: "default", sha256, filename: v1.filename },
        { ttlSeconds: 60, now: Date.now() - 3_600_000 },
      );
      const res = await fetch(`${srv.url}/pypi/default/signed/${sha256}/${v1.filename}?${query}`);
      expect(res.status).toBe(403);
      expect((await res.json()).code).toBe("E_SIGNATURE_EXPIRED");
    });

    it("refuse a URL moved to another workspace", async () => {
      const u = (await resolve(60)).url.replace("/pypi/default/", "/pypi/other/");
      const res = await fetch(u);
      expect(res.status).toBe(403);
      expect((await res.json()).code).toBe("E_SIGNATURE_INVALID");
    });
  });
});

describe("wheel routes in /openapi.json", () => {
  it("documents every wheel, secret and index route with its role", async () => {
    const full = await startTestServer(startServer);
    const res = await fetch(`${full.url}/openapi.json`).finally(() => full.stop());
    const doc = (await res.json()) as {
      paths: Record<string, Record<string, { "x-mlenv-role"?: string; requestBody?: unknown }>>;
    };
    expect(doc.paths["/upload/v1/wheels/{filename}"]?.put?.["x-mlenv-role"]).toBe("writer");
    expect(doc.paths["/api/v1/wheels/resolve"]?.post?.requestBody).toBeDefined();
    expect(doc.paths["/api/v1/secrets/{name}"]?.delete?.["x-mlenv-role"]).toBe("admin");
    expect(doc.paths["/pypi/{workspace}/signed/{sha256}/{filename}"]?.get?.["x-mlenv-role"]).toBeUndefined();
    expect(doc.paths["/pypi/{workspace}/legacy/"]?.post?.["x-mlenv-role"]).toBe("writer");
    expect(Object.keys(doc.paths).filter((p) => p.includes("wheels") || p.startsWith("/pypi/"))).toHaveLength(
      16,
    );
  });
});
