import { randomBytes } from "node:crypto";
import { makeTempDir } from "@mlenv/test-utils";
import { describeWithPostgres } from "@mlenv/test-utils/fixtures";
import pg from "pg";
import { expect, it } from "vitest";
import { spawnServer } from "../../test/helpers";
import { hashToken } from "../auth";
import { PostgresStore } from "../database";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Revoke a token the way another server process does: UPDATE + NOTIFY on commit. */
async function revokeElsewhere(url: string, token: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const res = await c.query(
      `WITH r AS (UPDATE api_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL RETURNING token_hash)
       SELECT pg_notify('mlenv_token_revoked', token_hash) FROM r`,
      [new Date().toISOString(), hashToken(token)],
    );
    expect(res.rowCount).toBe(1);
  } finally {
    await c.end();
  }
}

describeWithPostgres("a PostgreSQL restart under load", (pgh) => {
  it("keeps the server up: 503 while the database is down, 200 again after, revocations still heard", async () => {
    const database = pgh.createDatabase("restart_load");
    const dir = makeTempDir("mlenv-pg-restart-");
    const token = `mlenv_${randomBytes(32).toString("base64url")}`;
    const srv = await spawnServer({
      MLENV_DATA_DIR: dir.path,
      MLENV_DATABASE_URL: database,
      MLENV_BOOTSTRAP_TOKEN: token,
    });
    let exited: string | null = null;
    srv.child.once("exit", (code, signal) => {
      exited = `exit ${code} ${signal}`;
    });
    const call = async (method: string, path: string, body?: unknown, bearer = token) => {
      try {
        const res = await fetch(srv.url + path, {
          method,
          headers: {
            authorization: `Bearer ${bearer}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          ...(body ? { body: JSON.stringify(body) } : {}),
        });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0; // no answer at all (the process died)
      }
    };
    try {
      const created = await fetch(`${srv.url}/api/v1/tokens`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ name: "ci", role: "writer" }),
      });
      const writer = ((await created.json()) as { token: string }).token;

      // Mixed load: reads, registrations (transactions), token checks, the wheel catalog.
      let phase: "before" | "down" | "after" = "before";
      const seen: Record<string, number[]> = { before: [], down: [], after: [] };
      let stop = false;
      let n = 0;
      const worker = async (w: number) => {
        while (!stop) {
          const i = n++;
          const ops = [
            () => call("GET", "/api/v1/environments"),
            () =>
              call(
                "POST",
                "/api/v1/environments",
                { definition: { name: `load-${w}`, description: `r${i}` } },
                writer,
              ),
            () => call("GET", "/api/v1/wheels"),
            () => call("GET", "/api/v1/whoami", undefined, writer),
          ];
          const at = phase;
          const status = await ops[i % ops.length]!();
          seen[at]!.push(status);
          await sleep(5);
        }
      };
      const workers = Array.from({ length: 8 }, (_, w) => worker(w));
      await sleep(1500);
      phase = "down";
      pgh.halt();
      await sleep(3000);
      pgh.resume();
      // work resumes without a restart of the server
      const deadline = Date.now() + 30_000;
      while ((await call("GET", "/api/v1/environments")) !== 200) {
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(200);
      }
      phase = "after";
      await sleep(1500);
      stop = true;
      await Promise.all(workers);

      expect(exited).toBeNull();
      const counts = (xs: number[]) =>
        xs.reduce<Record<number, number>>((m, s) => {
          m[s] = (m[s] ?? 0) + 1;
          return m;
        }, {});
      process.stderr.write(
        `postgres restart: ${JSON.stringify({ before: counts(seen.before!), down: counts(seen.down!), after: counts(seen.after!) })}\n`,
      );
      // requests in flight when the stop began may end in 503 too; none may be a 500
      expect(seen.before!.filter((s) => ![200, 201, 503].includes(s))).toEqual([]);
      // while down: 503 (requests that were answered before the stop took effect may be 200/201)
      expect(seen.down!.filter((s) => ![200, 201, 503].includes(s))).toEqual([]);
      expect(seen.down!).toContain(503);
      expect(seen.after!.length).toBeGreaterThan(0);
      expect(seen.after!.filter((s) => s !== 200 && s !== 201)).toEqual([]);

      // the revocation feed is back: a token revoked by another process stops working here
      expect(await call("GET", "/api/v1/whoami", undefined, writer)).toBe(200);
      await revokeElsewhere(database, writer);
      const until = Date.now() + 5000;
      while ((await call("GET", "/api/v1/whoami", undefined, writer)) !== 401) {
        expect(Date.now()).toBeLessThan(until);
        await sleep(100);
      }
      expect(exited).toBeNull();
    } finally {
      await srv.stop();
      dir.cleanup();
    }
  }, 120_000);

  it("listens for revocations again after the database restarts", async () => {
    const database = pgh.createDatabase("restart_listen");
    const store = new PostgresStore(database);
    await store.migrate();
    const events: (string | null)[] = [];
    let resumed = 0;
    const stopWatching = await store.watchRevocations!(
      (h) => events.push(h),
      () => resumed++,
    );
    try {
      const ws = await store.createWorkspace("w", new Date().toISOString());
      const t = await store.createToken({
        workspaceId: ws.id,
        name: "t",
        role: "reader",
        tokenHash: "a".repeat(64),
        now: new Date().toISOString(),
      });
      pgh.halt();
      await sleep(500);
      pgh.resume();
      const deadline = Date.now() + 30_000;
      while (resumed === 0) {
        expect(Date.now()).toBeLessThan(deadline);
        await sleep(100);
      }
      expect(events).toContain(null); // the loss was reported
      await store.revokeToken(ws.id, t.id, new Date().toISOString());
      const until = Date.now() + 5000;
      while (!events.includes("a".repeat(64))) {
        expect(Date.now()).toBeLessThan(until);
        await sleep(50);
      }
    } finally {
      await stopWatching();
      await store.close();
    }
  }, 60_000);
});
