import {
  makeTempDir,
  postgresMissing,
  skipWithout,
  startPostgres,
  startTestServer,
  type TestServer,
} from "@mlenv/test-utils";
import { useTestServer } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import {
  apiClient,
  serviceRequest,
  snapshotFiles,
  spawnServer,
  venvMissing,
  workerHeaders,
} from "../../test/helpers";
import { startServer } from "../server";

const SCORE = `
import json, os
model = None
# which worker process answered (pids repeat: each worker has its own PID namespace)
WORKER = os.urandom(8).hex()
calls = {"init": 0}

def init():
    global model
    calls["init"] += 1
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model.json")) as f:
        model = json.load(f)

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("crash"):
        os._exit(7)
    if data.get("fail"):
        raise ValueError("bad input: " + str(data["fail"]))
    return {"result": [model["weight"] * x for x in data["data"]], "inits": calls["init"], "worker": WORKER}
`;

async function until<T>(f: () => Promise<T | null>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f().catch(() => null);
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "local web services (real python3 venv workers)",
  () => {
    const server = useTestServer(startServer);
    const { api } = server;

    it("registers a model from files (same files: same version) and lists it", async () => {
      const files = snapshotFiles({ "model.json": JSON.stringify({ weight: 3 }) });
      const a = await api("POST", "/api/v1/models", { name: "triple", files });
      expect([a.status, a.json.model.version]).toEqual([201, 1]);
      const b = await api("POST", "/api/v1/models", { name: "triple", files });
      expect([b.status, b.json.created, b.json.model.version]).toEqual([200, false, 1]);
      const list = await api("GET", "/api/v1/models");
      expect(list.json.items.map((m: { name: string }) => m.name)).toEqual(["triple"]);
      const bad = await api("POST", "/api/v1/models", { name: "x", files: snapshotFiles({ "../m": "1" }) });
      expect(bad.status).toBe(400);
    });

    it("deploys, scores over HTTP, answers errors with 500 + message, restarts a crashed worker, deletes", async () => {
      await api("POST", "/api/v1/environments", { definition: { name: "serve-env" } });
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": SCORE }) });
      const dep = await api(
        "POST",
        "/api/v1/services",
        serviceRequest("triple-svc", "triple", snap.json.id, {
          environment: { name: "serve-env" },
          deploymentConfig: { cpuCores: 1.5, memoryGb: 0.5 },
        }),
      );
      expect(dep.status, JSON.stringify(dep.json)).toBe(201);
      // the local target records the limits and says it does not enforce them
      expect(dep.json).toMatchObject({
        deploymentConfig: { cpuCores: 1.5, memoryGb: 0.5 },
        limitsEnforced: false,
      });
      const healthy = await until(async () => {
        const s = await api("GET", "/api/v1/services/triple-svc");
        if (s.json.status === "failed") throw new Error(JSON.stringify(s.json));
        return s.json.status === "healthy" ? s.json : null;
      });
      expect(healthy.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(healthy.environment).toMatchObject({ name: "serve-env", version: 1 });
      expect((await fetch(`${healthy.url}/healthz`)).status).toBe(200);

      // another local process (another workspace's run, say) cannot score on the loopback port
      // without the service's token; a wrong one is refused too
      const direct = await fetch(`${healthy.url}/score`, { method: "POST", body: '{"data": [1]}' });
      expect(direct.status).toBe(401);
      const wrong = await fetch(`${healthy.url}/score`, {
        method: "POST",
        headers: { "x-mlenv-service-token": "x".repeat(43) },
        body: '{"data": [1]}',
      });
      expect(wrong.status).toBe(401);
      const headers = await workerHeaders(server.dataDir, healthy.id);
      const score = (body: unknown) =>
        fetch(`${healthy.url}/score`, { method: "POST", headers, body: JSON.stringify(body) });
      const ok = await score({ data: [1, 2] });
      const first = await ok.json();
      expect(first).toMatchObject({ result: [3, 6], inits: 1 });
      expect((await (await score({ data: [5] })).json()).inits).toBe(1);

      const err = await score({ fail: "negative" });
      expect(err.status).toBe(500);
      expect(await err.json()).toEqual({ error: "ValueError: bad input: negative" });

      // the same through the server (for callers that cannot reach the loopback port)
      // a reader may score (it changes no record) but not deploy
      const reader = await api("POST", "/api/v1/tokens", { name: "scorer", role: "reader" });
      const asReader = apiClient(server.url, reader.json.token);
      const relayed = await asReader("POST", "/api/v1/services/triple-svc/score", { data: [4] });
      expect([relayed.status, relayed.json.result]).toEqual([200, [12]]);
      expect((await asReader("DELETE", "/api/v1/services/triple-svc")).status).toBe(403);
      const relayedErr = await api("POST", "/api/v1/services/triple-svc/score", { fail: "x" });
      expect([relayedErr.status, relayedErr.json]).toEqual([500, { error: "ValueError: bad input: x" }]);
      const notJson = await fetch(`${server.url}/api/v1/services/triple-svc/score`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.token}` },
        body: "{data",
      });
      expect(notJson.status).toBe(400);
      expect((await api("POST", "/api/v1/services/nope/score", {})).status).toBe(404);
      // the worker dies mid-request: the server says the service did not answer
      const crashed = await api("POST", "/api/v1/services/triple-svc/score", { crash: true });
      expect([crashed.status, crashed.json.code]).toEqual([502, "E_SERVICE_UNREACHABLE"]);
      const restarted = await until(async () => {
        const s = await api("GET", "/api/v1/services/triple-svc");
        if (s.json.restarts < 1 || s.json.status !== "healthy") return null;
        const r = await score({ data: [1] });
        return r.ok ? await r.json() : null;
      });
      expect(restarted.result).toEqual([3]);
      expect(restarted.worker).not.toBe(first.worker);

      const logs = await api("GET", "/api/v1/services/triple-svc/logs");
      const text = logs.json.items.map((l: { text: string }) => l.text).join("\n");
      expect(text).toContain("Traceback");
      expect(text).toMatch(/worker exited with code 7; restart 1/);

      const dupe = await api(
        "POST",
        "/api/v1/services",
        serviceRequest("triple-svc", "triple", snap.json.id),
      );
      expect([dupe.status, dupe.json.code]).toEqual([409, "E_CONFLICT"]);

      expect((await api("GET", "/api/v1/services")).json.items.map((s: { name: string }) => s.name)).toEqual([
        "triple-svc",
      ]);
      expect((await api("DELETE", "/api/v1/services/triple-svc")).status).toBe(204);
      await expect(fetch(`${healthy.url}/healthz`)).rejects.toThrow();
      expect((await api("GET", "/api/v1/services")).json.items).toEqual([]);
      expect((await api("GET", "/api/v1/services/triple-svc")).status).toBe(404);
    }, 120_000);

    it("refuses bad service names, unknown models and entry scripts outside the snapshot", async () => {
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": SCORE }) });
      const base = { model: { name: "triple" }, entryScript: "score.py", snapshot: snap.json.id };
      expect((await api("POST", "/api/v1/services", { ...base, name: "Bad Name;" })).json.code).toBe(
        "E_NAME_INVALID",
      );
      expect(
        (await api("POST", "/api/v1/services", { ...base, name: "x", model: { name: "nope" } })).json.code,
      ).toBe("E_NOT_FOUND");
      const r = await api("POST", "/api/v1/services", { ...base, name: "x", entryScript: "other.py" });
      expect([r.status, r.json.code]).toEqual([400, "E_BAD_REQUEST"]);
      for (const deploymentConfig of [
        { cpuCores: 0 },
        { memoryGb: -1 },
        { cpuCores: 2000 },
        { memoryGb: "1" },
      ]) {
        const bad = await api("POST", "/api/v1/services", { ...base, name: "limits", deploymentConfig });
        expect([bad.status, bad.json.code], JSON.stringify(bad.json)).toEqual([400, "E_BAD_REQUEST"]);
      }
      expect((await api("GET", "/api/v1/services/limits")).status).toBe(404);
    });

    it("scoring through the server answers 409 while the service is not healthy", async () => {
      const slow = "import time\ndef init():\n    time.sleep(60)\ndef run(raw_data):\n    return raw_data\n";
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": slow }) });
      const dep = await api("POST", "/api/v1/services", serviceRequest("slow-svc", "triple", snap.json.id));
      expect(dep.status, JSON.stringify(dep.json)).toBe(201);
      const r = await api("POST", "/api/v1/services/slow-svc/score", { data: [1] });
      expect([r.status, r.json.code, r.json.details]).toEqual([409, "E_CONFLICT", { status: "deploying" }]);
      expect((await api("DELETE", "/api/v1/services/slow-svc")).status).toBe(204);
      // last: the server closes the connection of an oversized body, which fetch's pool may reuse
      const tooBig = await api("POST", "/api/v1/services/slow-svc/score", { data: "x".repeat(1_100_000) });
      expect([tooBig.status, tooBig.json.code]).toEqual([413, "E_TOO_LARGE"]);
    });
  },
);

describe.skipIf(skipWithout("python3-venv", venvMissing()))("services and server shutdown", () => {
  it("server shutdown stops the workers; the next start serves the service again", async () => {
    const t = makeTempDir("mlenv-svc-restart-");
    try {
      const a = await startTestServer(startServer, { dataDir: t.path });
      const api = apiClient(a.url, a.token);
      await api("POST", "/api/v1/models", {
        name: "m",
        files: snapshotFiles({ "model.json": '{"weight": 2}' }),
      });
      const snap = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": SCORE }) });
      await api("POST", "/api/v1/services", serviceRequest("svc", "m", snap.json.id));
      const url = await until(async () => {
        const s = await api("GET", "/api/v1/services/svc");
        return s.json.status === "healthy" ? (s.json.url as string) : null;
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      await a.stop();
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();

      const b = await startTestServer(startServer, { dataDir: t.path, token: a.token });
      try {
        const answer = await until(async () => {
          const r = await apiClient(b.url, a.token)("POST", "/api/v1/services/svc/score", { data: [4] });
          return r.status === 200 ? (r.json as { result: number[] }) : null;
        });
        expect(answer.result).toEqual([8]);
        expect((await apiClient(b.url, a.token)("DELETE", "/api/v1/services/svc")).status).toBe(204);
      } finally {
        await b.stop();
      }
    } finally {
      t.cleanup();
    }
  }, 120_000);
});

describe.skipIf(skipWithout("python3-venv", venvMissing()) || skipWithout("postgres", postgresMissing()))(
  "services with two server processes on one PostgreSQL database",
  () => {
    it("one process runs a service; another takes it over when that process dies, and deletes reach it", async () => {
      const pg = await startPostgres();
      const dir = makeTempDir("mlenv-svc-two-");
      // several server processes share the database and the blob store (snapshots, models)
      const blobDir = makeTempDir("mlenv-svc-blobs-");
      const beat = "300";
      let a: TestServer | undefined;
      let b: Awaited<ReturnType<typeof spawnServer>> | undefined;
      try {
        const database = pg.createDatabase("two_servers_services");
        a = await startTestServer((o) => startServer({ ...o, runs: { serviceHeartbeatMs: Number(beat) } }), {
          database,
          blobDir: blobDir.path,
        });
        b = await spawnServer({
          MLENV_DATA_DIR: dir.path,
          MLENV_DATABASE_URL: database,
          MLENV_BLOB_DIR: blobDir.path,
          MLENV_BOOTSTRAP_TOKEN: a.token,
          MLENV_SERVICE_HEARTBEAT_MS: beat,
        });
        const apiA = apiClient(a.url, a.token);
        const apiB = apiClient(b.url, a.token);
        await apiB("POST", "/api/v1/models", {
          name: "m",
          files: snapshotFiles({ "model.json": '{"weight": 3}' }),
        });
        const snap = await apiB("POST", "/api/v1/snapshots", { files: snapshotFiles({ "score.py": SCORE }) });
        expect(
          (await apiB("POST", "/api/v1/services", serviceRequest("shared", "m", snap.json.id))).status,
        ).toBe(201);
        const url = await until(async () => {
          const s = await apiA("GET", "/api/v1/services/shared");
          return s.json.status === "healthy" ? (s.json.url as string) : null;
        });
        const first = (await apiA("POST", "/api/v1/services/shared/score", { data: [2] })).json as {
          result: number[];
          worker: string;
        };
        expect(first.result).toEqual([6]);
        // several heartbeats later, A has still not started a worker of its own: one deployment only
        await new Promise((r) => setTimeout(r, 1500));
        const deploying = async () =>
          ((await apiA("GET", "/api/v1/services/shared/logs")).json.items as { text: string }[]).filter((l) =>
            l.text.startsWith("deploying shared"),
          ).length;
        expect(await deploying()).toBe(1);

        // B dies without a word (its worker dies with it); A takes the service over
        await b.crash();
        const second = await until(async () => {
          const r = await apiA("POST", "/api/v1/services/shared/score", { data: [5] });
          return r.status === 200 ? (r.json as { result: number[]; worker: string }) : null;
        }, 30_000);
        expect(second.result).toEqual([15]);
        expect(second.worker).not.toBe(first.worker);
        expect(await deploying()).toBe(2);
        expect((await apiA("POST", "/api/v1/services/shared/score", { data: [1] })).json.result).toEqual([3]);

        // another process starts; a delete through it reaches the process that runs the service
        b = await spawnServer({
          MLENV_DATA_DIR: dir.path,
          MLENV_DATABASE_URL: database,
          MLENV_SERVICE_HEARTBEAT_MS: beat,
        });
        // a process that starts while another runs the service leaves it alone
        await new Promise((r) => setTimeout(r, 1500));
        expect(await deploying()).toBe(2);
        expect((await apiClient(b.url, a.token)("DELETE", "/api/v1/services/shared")).status).toBe(204);
        await until(async () => {
          const alive = await fetch(`${url}/healthz`).then(
            () => true,
            () => false,
          );
          return alive ? null : true;
        }, 10_000);
      } finally {
        await b?.stop();
        await a?.stop();
        await pg.stop();
        dir.cleanup();
        blobDir.cleanup();
      }
    }, 120_000);
  },
);
