import { spawnSync } from "node:child_process";
import { chownSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  makeTempDir,
  type ServerProcess,
  skipWithout,
  startTestServer,
  type TestServer,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  apiClient,
  serviceRequest,
  snapshotFiles,
  spawnServer,
  uploadSnapshot,
  venvMissing,
} from "../../test/helpers";
import { startServer } from "../server";

/**
 * A hostile script of workspace B: tries to read the server's secrets and another workspace's
 * run folder, prints one JSON object `{what: "denied" | "READ ..."}`.
 */
const ATTACK = `
import json, os, sys
data_dir, other = sys.argv[1], sys.argv[2]
out = {}
def attempt(name, fn):
    try:
        out[name] = "READ " + repr(fn())[:80]
    except Exception as e:
        out[name] = "denied"
def read(p):
    with open(p, "rb") as f:
        return f.read(64)
for name in ["admin-token", "signing-key", "mlenv.db", "secrets.key"]:
    attempt(name, lambda name=name: read(os.path.join(data_dir, name)))
attempt("list data dir", lambda: sorted(os.listdir(data_dir)))
attempt("list blobs", lambda: sorted(os.listdir(os.path.join(data_dir, "blobs"))))
attempt("list runs", lambda: sorted(os.listdir(os.path.join(data_dir, "work", "runs"))))
attempt("other run dir", lambda: os.listdir(other))
attempt("other run file", lambda: read(os.path.join(other, "private.txt")))
print("uid", os.getuid())
print("ATTACK " + json.dumps(out, sort_keys=True))
`;

/** Workspace A's run: writes a private file in its folder, says where, waits. */
const VICTIM = `
import os, time
with open("private.txt", "w") as f:
    f.write("A's private data")
print("CWD " + os.getcwd(), flush=True)
time.sleep(float(os.environ.get("HOLD", "60")))
`;

const SCORE_ATTACK = `
import json, os
def init():
    pass
def run(raw):
    raw = json.loads(raw) if isinstance(raw, str) else raw
    p = os.path.join(raw["dataDir"], raw["file"])
    try:
        with open(p, "rb") as f:
            return {"read": f.read(20).decode("latin-1")}
    except Exception as e:
        return {"denied": type(e).__name__}
`;

type Api = ReturnType<typeof apiClient>;

async function until<T>(fn: () => Promise<T | null>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 150));
  }
}

async function logText(api: Api, id: string): Promise<string> {
  const r = await api("GET", `/api/v1/runs/${id}/logs`);
  return (r.json.items ?? []).map((l: { text: string }) => l.text).join("\n");
}

// biome-ignore lint/suspicious/noExplicitAny: the run's JSON is checked field by field with expect()
async function waitFinal(api: Api, id: string): Promise<any> {
  return until(async () => {
    const r = await api("GET", `/api/v1/runs/${id}`);
    return ["completed", "failed", "canceled"].includes(r.json.status) ? r.json : null;
  }, 120_000);
}

async function submit(api: Api, files: Record<string, string>, script: string, body: object = {}) {
  const snapshot = await uploadSnapshot(api, files);
  return api("POST", "/api/v1/runs", { experiment: "iso", script, snapshot, ...body });
}

/** A's run holding a private file; resolves with its folder once it is there. */
async function victimRun(api: Api): Promise<{ id: string; dir: string }> {
  const sub = await submit(api, { "victim.py": VICTIM }, "victim.py", {
    environment: { definition: { name: "victim", environmentVariables: { HOLD: "60" } } },
  });
  expect(sub.status, JSON.stringify(sub.json)).toBe(201);
  const dir = await until(async () => /CWD (\S+)/.exec(await logText(api, sub.json.id))?.[1] ?? null);
  return { id: sub.json.id, dir };
}

/** Run the attack as workspace B; the parsed verdicts and the run's log. */
async function attack(api: Api, dataDir: string, otherDir: string, environment?: object) {
  const sub = await submit(api, { "attack.py": ATTACK }, "attack.py", {
    arguments: [dataDir, otherDir],
    ...(environment ? { environment } : {}),
  });
  expect(sub.status, JSON.stringify(sub.json)).toBe(201);
  const run = await waitFinal(api, sub.json.id);
  const log = await logText(api, sub.json.id);
  expect(run.status, log).toBe("completed");
  const m = /ATTACK (\{.*\})/.exec(log);
  expect(m, log).not.toBeNull();
  return { verdicts: JSON.parse(m![1]!) as Record<string, string>, log, id: sub.json.id as string };
}

const everythingDenied = {
  "admin-token": "denied",
  "signing-key": "denied",
  "mlenv.db": "denied",
  "secrets.key": "denied",
  "list data dir": "denied",
  "list blobs": "denied",
  "list runs": "denied",
  "other run dir": "denied",
  "other run file": "denied",
};

const notRoot = process.getuid?.() === 0 ? null : "the tests run as root in CI (run accounts need root)";

describe.skipIf(skipWithout("python3-venv", venvMissing()) || skipWithout("root", notRoot))(
  "a root server runs each workspace's code as its own account (issue 14 item 1)",
  () => {
    let server: TestServer;
    let a: Api;
    let b: Api;
    beforeAll(async () => {
      server = await startTestServer(startServer);
      a = apiClient(server.url, server.token);
      const ws = await a("POST", "/api/v1/workspaces", { name: "team-b" });
      expect(ws.status).toBe(201);
      b = apiClient(server.url, ws.json.adminToken);
    });
    afterAll(() => server?.stop());

    it("a run of B reads none of the server's files nor A's run folder", async () => {
      const victim = await victimRun(a);
      const { verdicts, log } = await attack(b, server.dataDir, victim.dir);
      expect(verdicts, log).toEqual(everythingDenied);
      expect(log).toMatch(/confinement: runs as account \d+/);
      expect(log).not.toContain("uid 0");
      // and A's own run still works: its files are its own
      await a("POST", `/api/v1/runs/${victim.id}/cancel`);
    }, 180_000);

    it("the same with a user-managed interpreter", async () => {
      const victim = await victimRun(a);
      const { verdicts, log } = await attack(b, server.dataDir, victim.dir, {
        definition: {
          name: "bring-your-own",
          python: { userManagedDependencies: true, interpreterPath: "python3" },
        },
      });
      expect(verdicts, log).toEqual(everythingDenied);
      await a("POST", `/api/v1/runs/${victim.id}/cancel`);
    }, 180_000);

    it("a service entry script of B cannot read the admin token or signing key", async () => {
      await b("POST", "/api/v1/models", { name: "m", files: snapshotFiles({ "m.json": "{}" }) });
      const snap = await b("POST", "/api/v1/snapshots", {
        files: snapshotFiles({ "score.py": SCORE_ATTACK }),
      });
      const dep = await b("POST", "/api/v1/services", serviceRequest("thief", "m", snap.json.id));
      expect(dep.status, JSON.stringify(dep.json)).toBe(201);
      await until(async () => {
        const s = await b("GET", "/api/v1/services/thief");
        if (s.json.status === "failed") throw new Error(JSON.stringify(s.json));
        return s.json.status === "healthy" ? true : null;
      });
      for (const file of ["admin-token", "signing-key", "mlenv.db"]) {
        const r = await b("POST", "/api/v1/services/thief/score", { dataDir: server.dataDir, file });
        expect([r.status, r.json]).toEqual([200, { denied: "PermissionError" }]);
      }
      expect((await b("DELETE", "/api/v1/services/thief")).status).toBe(204);
    }, 180_000);

    it("the data dir is not readable by others; a run's folder belongs to its workspace's account", async () => {
      const { statSync } = await import("node:fs");
      expect(statSync(server.dataDir).mode & 0o777).toBe(0o711);
      for (const name of readdirSync(server.dataDir)) {
        if (name === "venvs" || name === "work") continue;
        expect([name, statSync(join(server.dataDir, name)).mode & 0o077]).toEqual([name, 0]);
      }
    });
  },
);

const bwrapMissing = (): string | null => {
  const r = spawnSync("bwrap", ["--version"], { stdio: "ignore" });
  return r.status === 0 ? null : "bubblewrap (bwrap) is not installed (apt-get install bubblewrap)";
};

/** Start the server in its own process as the unprivileged `nobody` (uid 65534). */
async function serverAsNobody(env: Record<string, string>) {
  const data = makeTempDir("mlenv-nonroot-");
  chownSync(data.path, 65534, 65534);
  const token = `mlenv_${"n".repeat(43)}`;
  let srv: ServerProcess | undefined;
  try {
    srv = await spawnServer(
      { MLENV_DATA_DIR: data.path, MLENV_BOOTSTRAP_TOKEN: token, HOME: data.path, ...env },
      { uid: 65534 },
    );
    const a = apiClient(srv.url, token);
    const ws = await a("POST", "/api/v1/workspaces", { name: "team-b" });
    expect(ws.status).toBe(201);
    return {
      ...srv,
      dataDir: data.path,
      a,
      b: apiClient(srv.url, ws.json.adminToken),
      cleanup: data.cleanup,
    };
  } catch (e) {
    // not started as the caller expects: nothing of it stays behind
    await srv?.stop();
    data.cleanup();
    throw e;
  }
}

describe.skipIf(skipWithout("python3-venv", venvMissing()) || skipWithout("root", notRoot))(
  "a server that is not root (started as nobody)",
  () => {
    it.skipIf(skipWithout("bubblewrap", bwrapMissing()))(
      "confines runs with bubblewrap: B reads none of the server's files nor A's run folder",
      async () => {
        const s = await serverAsNobody({});
        try {
          const victim = await victimRun(s.a);
          const { verdicts, log, id } = await attack(s.b, s.dataDir, victim.dir);
          // the sandbox shows an empty data dir holding only the mount points of its own folders
          // (and of the run callback's socket, the one way out of a run without network)
          expect(verdicts, log).toEqual({
            ...everythingDenied,
            "list data dir": "READ ['venvs', 'work']",
            "list runs": expect.stringMatching(new RegExp(`^READ \\['\\.callback-\\d+\\.sock', '${id}'\\]$`)),
          });
          expect(log).toContain("confinement: bubblewrap sandbox");
        } finally {
          await s.stop();
          s.cleanup();
        }
      },
      180_000,
    );

    it("without a sandbox, refuses the local target with several workspaces unless an admin allows it", async () => {
      const s = await serverAsNobody({ MLENV_BWRAP: "off" });
      try {
        const refused = await submit(s.b, { "x.py": "print(1)\n" }, "x.py");
        expect([refused.status, refused.json.code]).toEqual([403, "E_LOCAL_TARGET_REFUSED"]);
        expect(refused.json.message).toContain("MLENV_LOCAL_TARGET=unconfined");
        const snap = await s.b("POST", "/api/v1/snapshots", { files: snapshotFiles({ "x.py": "" }) });
        const svc = await s.b("POST", "/api/v1/services", {
          name: "x",
          model: { name: "m" },
          entryScript: "x.py",
          snapshot: snap.json.id,
        });
        expect([svc.status, svc.json.code]).toEqual([403, "E_LOCAL_TARGET_REFUSED"]);
      } finally {
        await s.stop();
        s.cleanup();
      }
      const allowed = await serverAsNobody({ MLENV_BWRAP: "off", MLENV_LOCAL_TARGET: "unconfined" });
      try {
        const sub = await submit(allowed.b, { "x.py": "print('ran')\n" }, "x.py");
        expect(sub.status).toBe(201);
        const run = await waitFinal(allowed.b, sub.json.id);
        expect(run.status).toBe("completed");
        expect(await logText(allowed.b, sub.json.id)).toContain("confinement: NOT confined");
      } finally {
        await allowed.stop();
        allowed.cleanup();
      }
    }, 180_000);
  },
);
