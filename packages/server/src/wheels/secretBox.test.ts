import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, startTestServer } from "@mlenv/test-utils";
import { describeOnEachDatabase } from "@mlenv/test-utils/fixtures";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { apiClient } from "../../test/helpers";
import { openStore, startServer } from "../server";
import { SecretBox } from "./secretBox";
import { openWheelCatalog } from "./sqlCatalog";

describe("SecretBox (AES-256-GCM)", () => {
  it("round-trips, binds a value to its workspace and name, refuses another key", () => {
    const box = new SecretBox(randomBytes(32));
    const sealed = box.seal("ws1", "TOKEN", "hunter2-value");
    expect(sealed).toMatch(/^mlenv-enc-v1:/);
    expect(sealed).not.toContain("hunter2");
    expect(box.seal("ws1", "TOKEN", "hunter2-value")).not.toBe(sealed); // a fresh IV each time
    expect(box.open("ws1", "TOKEN", sealed)).toBe("hunter2-value");
    expect(() => box.open("ws2", "TOKEN", sealed)).toThrow(/does not decrypt/);
    expect(() => box.open("ws1", "OTHER", sealed)).toThrow(/does not decrypt/);
    expect(() => new SecretBox(randomBytes(32)).open("ws1", "TOKEN", sealed)).toThrow(/does not decrypt/);
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describeOnEachDatabase(
  "workspace secrets are encrypted at rest, issue 14 item 1",
  "secrets_at_rest",
  ({ database }) => {
    const dir = makeTempDir("mlenv-secrets-at-rest-");
    afterAll(() => dir.cleanup());

    /** The stored value column of every secret row, read straight from the database. */
    async function rawValues(): Promise<string[]> {
      const db = database();
      if (db) {
        const c = new pg.Client({ connectionString: db });
        await c.connect();
        try {
          return (await c.query("SELECT value FROM workspace_secrets ORDER BY name")).rows.map(
            (r) => r.value,
          );
        } finally {
          await c.end();
        }
      }
      const d = new Database(join(dir.path, "mlenv.db"), { readonly: true });
      try {
        return (
          d.prepare("SELECT value FROM workspace_secrets ORDER BY name").all() as { value: string }[]
        ).map((r) => r.value);
      } finally {
        d.close();
      }
    }

    async function setRaw(name: string, value: string): Promise<void> {
      const db = database();
      if (db) {
        const c = new pg.Client({ connectionString: db });
        await c.connect();
        await c
          .query("UPDATE workspace_secrets SET value = $1 WHERE name = $2", [value, name])
          .finally(() => c.end());
        return;
      }
      const d = new Database(join(dir.path, "mlenv.db"));
      d.prepare("UPDATE workspace_secrets SET value = ? WHERE name = ?").run(value, name);
      d.close();
    }

    it("the database never holds the value; plaintext rows of an older server are encrypted at start", async () => {
      const db = database();
      const token = `mlenv_${"s".repeat(43)}`;
      let srv = await startTestServer(startServer, {
        dataDir: dir.path,
        token,
        ...(db ? { database: db } : {}),
      });
      try {
        const api = apiClient(srv.url, token);
        for (const name of ["CORP", "LEGACY"]) {
          const put = await api("PUT", `/api/v1/secrets/${name}`, {
            value: `value-of-${name}-9f8e7d`,
            allowedHosts: ["pypi.corp.test"],
          });
          expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
        }
        const raw = await rawValues();
        expect(raw).toHaveLength(2);
        for (const v of raw) {
          expect(v).toMatch(/^mlenv-enc-v1:/);
          expect(v).not.toContain("9f8e7d");
        }
        // the key is outside the database, private to the server
        expect(statSync(join(dir.path, "secrets.key")).mode & 0o777).toBe(0o600);
      } finally {
        await srv.stop();
      }
      // an older server stored LEGACY in plain text
      await setRaw("LEGACY", "plain-legacy-value");
      srv = await startTestServer(startServer, { dataDir: dir.path, token, ...(db ? { database: db } : {}) });
      try {
        const raw = await rawValues();
        expect(raw.every((v) => v.startsWith("mlenv-enc-v1:"))).toBe(true);
        expect(raw.join()).not.toContain("plain-legacy-value");
      } finally {
        await srv.stop();
      }
      // the values still read back with the key
      const store = await openStore({ dataDir: dir.path, ...(db ? { database: db } : {}) });
      const catalog = openWheelCatalog(
        db ? { postgresUrl: db } : { sqliteFile: join(dir.path, "mlenv.db") },
        {
          secretBox: SecretBox.open({ file: join(dir.path, "secrets.key") }),
        },
      );
      try {
        const ws = (await store.getWorkspace("default"))!.id;
        expect(await catalog.getSecret(ws, "CORP")).toBe("value-of-CORP-9f8e7d");
        expect(await catalog.getSecret(ws, "LEGACY")).toBe("plain-legacy-value");
      } finally {
        await catalog.close();
        await store.close();
      }
    }, 120_000);
  },
);
