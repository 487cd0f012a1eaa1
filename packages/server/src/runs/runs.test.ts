import { join } from "node:path";
import { imageKey, parseDefinition } from "@mlenv/core";
import {
  buildWheel,
  condaArchiveToolsMissing,
  makeTempDir,
  servePypiIndex,
  skipWithout,
  startTestServer,
  withGreetCondaChannel,
} from "@mlenv/test-utils";
import { useStarted, useTestServer } from "@mlenv/test-utils/fixtures";
import { describe, expect, it } from "vitest";
import {
  apiClient,
  completedRun,
  pollRun,
  processesWith,
  runLog,
  snapshotFiles,
  uploadSnapshot,
  venvMissing,
} from "../../test/helpers";
import { openStore, startServer } from "../server";
import { openRunStore } from "./runStore";

const TRAIN = `
import json, os, sys
import mlenv_run
print("training with", sys.argv[1:])
for i, loss in enumerate([0.5, 0.25, 0.125]):
    mlenv_run.log("loss", loss)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"weight": 2.0}, f)
print("prefix", os.environ.get("GREETING"))
print("done", file=sys.stderr)
`;

/** A run environment's definition: conda `dependencies` from `channels`. */
const condaEnv = (name: string, dependencies: unknown[], channels = ["conda-forge"]) => ({
  name,
  python: { condaDependencies: { name: "x", dependencies, channels } },
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "runs on the local target (real python3, venv, pip)",
  () => {
    const server = useTestServer(startServer);
    const { api } = server;

    const snapshot = (files: Record<string, string>) => uploadSnapshot(api, files);
    /** Upload `files` and submit `script` of them to the local target (experiment "demo" unless `body` says). */
    const submitFiles = async (files: Record<string, string>, script: string, body: object = {}) =>
      api("POST", "/api/v1/runs", { experiment: "demo", script, snapshot: await snapshot(files), ...body });
    /** Submit `script` of `snap` to the local target, in an environment of `definition`. */
    const submitWith = (definition: object, experiment: string, script: string, snap: string) =>
      api("POST", "/api/v1/runs", { experiment, script, snapshot: snap, environment: { definition } });

    const waitFinal = (id: string, timeoutMs?: number) =>
      pollRun(api, id, timeoutMs === undefined ? {} : { timeoutMs });
    const logText = (id: string) => runLog(api, id);

    it("runs a script in a registered environment: output, metrics, outputs as artifacts, exact environment", async () => {
      const reg = await api("POST", "/api/v1/environments", {
        definition: { name: "train-env", environmentVariables: { GREETING: "hello" } },
      });
      expect(reg.status).toBe(201);
      const snap = await snapshot({ "train.py": TRAIN, "lib/util.py": "X = 1\n" });
      const sub = await api("POST", "/api/v1/runs", {
        experiment: "demo",
        script: "train.py",
        arguments: ["--lr", "0.1; rm -rf /"],
        snapshot: snap,
        environment: { name: "train-env" },
      });
      expect(sub.status, JSON.stringify(sub.json)).toBe(201);
      expect(sub.json).toMatchObject({ status: "queued", number: 1, experiment: "demo" });
      const { run, log } = await completedRun(api, sub.json.id);
      expect(run.exitCode).toBe(0);
      expect(log).toContain("training with ['--lr', '0.1; rm -rf /']");
      expect(log).toContain("prefix hello");
      expect(log).toContain("done");
      expect(run.environment).toMatchObject({
        name: "train-env",
        version: 1,
        definitionHash: reg.json.environment.definitionHash,
        lock: null,
      });
      expect(run.environment.definition.name).toBe("train-env");
      expect(run.artifacts.map((a: { path: string }) => a.path)).toEqual(["outputs/model.json"]);
      const metrics = await api("GET", `/api/v1/runs/${run.id}/metrics`);
      expect(metrics.json.items.map((m: { value: number; step: number }) => [m.value, m.step])).toEqual([
        [0.5, 0],
        [0.25, 1],
        [0.125, 2],
      ]);
      const content = await fetch(
        `${server.url}/api/v1/runs/${run.id}/artifacts/content?path=outputs/model.json`,
        {
          headers: { authorization: `Bearer ${server.token}` },
        },
      );
      expect(await content.json()).toEqual({ weight: 2 });
      // paging the log from a sequence number returns only what follows it
      const page = await api("GET", `/api/v1/runs/${run.id}/logs?after=2`);
      expect(page.json.items[0].seq).toBe(3);
      expect(page.json.status).toBe("completed");
    }, 180_000);

    it("a second run in the same environment reuses the cached venv", async () => {
      const t0 = performance.now();
      const sub = await submitFiles({ "train.py": TRAIN }, "train.py", {
        environment: { name: "train-env" },
      });
      const run = await waitFinal(sub.json.id);
      const ms = performance.now() - t0;
      expect(run.status).toBe("completed");
      expect(run.number).toBe(2);
      expect(await logText(run.id)).toContain("environment ready: reusing venv");
      expect(ms).toBeLessThan(10_000);
    });

    it("no environment given: a default environment is registered and used", async () => {
      const sub = await submitFiles({ "hello.py": "print('hi')\n" }, "hello.py", { experiment: "auto" });
      const run = await waitFinal(sub.json.id);
      expect(run.status).toBe("completed");
      expect(run.environment).toMatchObject({ name: "default-run-environment", version: 1 });
      const env = await api("GET", "/api/v1/environments/default-run-environment");
      expect(env.status).toBe(200);
    }, 120_000);

    it("a failing script ends Failed with its exit code and log", async () => {
      const sub = await submitFiles(
        { "bad.py": "import sys\nprint('about to fail')\nsys.exit(3)\n" },
        "bad.py",
        { environment: { name: "train-env" } },
      );
      const run = await waitFinal(sub.json.id);
      expect(run).toMatchObject({ status: "failed", exitCode: 3, error: { code: "E_SCRIPT_FAILED" } });
      expect(run.error.message).toContain("about to fail");
    });

    it("cancel stops the whole process tree", async () => {
      // found by a marker in its command line: in a PID namespace the pid it sees is not the host's
      const marker = `mlenv-cancel-${Date.now()}`;
      const script = [
        "import subprocess, sys, time",
        `child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '${marker}'])`,
        "print('child', child.pid, flush=True)",
        "time.sleep(60)",
      ].join("\n");
      const sub = await submitFiles({ "long.py": script }, "long.py", { environment: { name: "train-env" } });
      let started = false;
      const end = Date.now() + 30_000;
      while (!started && Date.now() < end) {
        started = /child (\d+)/.test(await logText(sub.json.id)) && processesWith(marker).length > 0;
        if (!started) await new Promise((r) => setTimeout(r, 100));
      }
      expect(started).toBe(true);
      const c = await api("POST", `/api/v1/runs/${sub.json.id}/cancel`);
      expect(c.json.status).toBe("canceled");
      const deadline = Date.now() + 10_000;
      while (processesWith(marker).length > 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect(processesWith(marker)).toEqual([]);
    }, 60_000);

    it("conda packages on the local target: a conda environment installed without conda runs the script", async () => {
      if (skipWithout("zstd/bzip2 tools", condaArchiveToolsMissing())) return;
      await withGreetCondaChannel(async ({ channel, pythonVersion }) => {
        const def = condaEnv("conda-env", [`python=${pythonVersion}`, "greet"], [channel.url]);
        const snap = await snapshot({
          "a.py": "import sys, greet\nprint(greet.GREETING)\nprint('prefix', sys.prefix)\n",
        });
        const sub = await submitWith(def, "demo", "a.py", snap);
        expect(sub.status, JSON.stringify(sub.json)).toBe(201);
        const { log: logs } = await completedRun(api, sub.json.id, 300_000);
        expect(logs).toContain("hello from a conda package");
        expect(logs).toMatch(/prefix .*\/venvs\/[0-9a-f]+/);
        expect(logs).toContain("conda environment ready: 2 conda packages (2 fetched)");
        // the next run reuses the environment
        const again = await submitWith(def, "demo", "a.py", snap);
        expect((await waitFinal(again.json.id)).status).toBe("completed");
        expect(await logText(again.json.id)).toContain("environment ready: reusing venv");
      });
    }, 400_000);

    // the wheels of the pip tests, served by one loopback package index
    const tinymath = buildWheel({
      name: "tinymath",
      version: "1.0",
      files: { "tinymath/__init__.py": "def double(x):\n    return 2 * x\n" },
    });
    const lockedpkg = buildWheel({
      name: "lockedpkg",
      version: "2.0",
      files: { "lockedpkg/__init__.py": "V = 'locked 2.0'\n" },
    });
    const index = useStarted(
      "the package index",
      () =>
        servePypiIndex({ projects: { tinymath: [{ wheel: tinymath }], lockedpkg: [{ wheel: lockedpkg }] } }),
      (ix) => ix.close(),
    );

    it("installs the pip block from a loopback index into the venv", async () => {
      const def = condaEnv("pip-env", [
        "python=3.11",
        { pip: [`--index-url ${index.url}`, "tinymath==1.0"] },
      ]);
      const snap = await snapshot({ "use.py": "import tinymath\nprint('double', tinymath.double(21))\n" });
      const sub = await submitWith(def, "pip", "use.py", snap);
      const { log } = await completedRun(api, sub.json.id);
      expect(log).toContain("double 42");
      expect(index.requests.some((r) => r.path.includes("tinymath"))).toBe(true);
    }, 180_000);

    it("a run given a lock installs exactly its artifacts (hash-checked) and records the lock", async () => {
      const def = condaEnv("locked-env", ["python=3.11", { pip: [`--index-url ${index.url}`, "lockedpkg"] }]);
      const reg = await api("POST", "/api/v1/environments", { definition: def });
      const base = index.url.replace(/\/simple$/, "");
      const lock = {
        lockVersion: 1,
        definitionHash: reg.json.environment.definitionHash,
        platforms: {
          "linux-64": {
            conda: [],
            pip: [
              {
                name: "lockedpkg",
                version: "2.0",
                url: `${base}/files/${lockedpkg.filename}`,
                sha256: lockedpkg.sha256,
              },
            ],
          },
        },
      };
      const snap = await snapshot({ "use.py": "import lockedpkg\nprint(lockedpkg.V)\n" });
      const stale = await api("POST", "/api/v1/runs", {
        experiment: "lock",
        script: "use.py",
        snapshot: snap,
        environment: { name: "locked-env" },
        lock: { ...lock, definitionHash: `mlenv1-sha256:${"0".repeat(64)}` },
      });
      expect([stale.status, stale.json.code]).toEqual([409, "E_CONFLICT"]);
      const sub = await api("POST", "/api/v1/runs", {
        experiment: "lock",
        script: "use.py",
        snapshot: snap,
        environment: { name: "locked-env" },
        lock,
      });
      expect(sub.status, JSON.stringify(sub.json)).toBe(201);
      const { run, log } = await completedRun(api, sub.json.id);
      expect(log).toContain("locked 2.0");
      expect(log).toContain("from the lock");
      expect(run.environment.lock.platforms["linux-64"].pip[0].sha256).toBe(lockedpkg.sha256);
      // the lock is part of the venv's key: not the unlocked environment's venv
      expect(run.environment.imageKey).not.toBe(imageKey(parseDefinition(reg.json.environment.definition)));
    }, 180_000);

    it("refuses hostile snapshot paths, scripts outside the snapshot, and oversized snapshots", async () => {
      for (const path of ["../evil.py", "/etc/passwd", "a/../../b.py", "a\\b.py"]) {
        const r = await api("POST", "/api/v1/snapshots", { files: snapshotFiles({ [path]: "x" }) });
        expect(r.status, path).toBe(400);
        expect(r.json.code).toBe("E_BAD_REQUEST");
      }
      const snap = await snapshot({ "a.py": "print(1)\n" });
      const r = await api("POST", "/api/v1/runs", { experiment: "demo", script: "b.py", snapshot: snap });
      expect([r.status, r.json.code]).toEqual([400, "E_BAD_REQUEST"]);
      expect(r.json.message).toContain('"b.py" is not in the snapshot');
      const big = await api("POST", "/api/v1/snapshots", {
        files: snapshotFiles({ "big.bin": "x".repeat(26 * 1024 * 1024) }),
      });
      expect([big.status, big.json.code]).toEqual([413, "E_TOO_LARGE"]);
      expect(big.json.message).toContain(".mlenvignore");
    });

    it("a snapshot belongs to the workspace that uploaded it: another answers as for a missing one", async () => {
      const files = { "train.py": "print(1)\n", "score.py": "print(2)\n" };
      const mine = await snapshot(files);
      const created = await api("POST", "/api/v1/workspaces", { name: "snapshot-thief" });
      expect(created.status).toBe(201);
      const other = apiClient(server.url, created.json.adminToken);
      const missing = `sha256:${"0".repeat(64)}`;
      for (const [path, body] of [
        ["/api/v1/runs", { experiment: "demo", script: "train.py" }],
        ["/api/v1/services", { name: "thief", model: { name: "m" }, entryScript: "score.py" }],
      ] as const) {
        const stolen = await other("POST", path, { ...body, snapshot: mine });
        const absent = await other("POST", path, { ...body, snapshot: missing });
        expect([stolen.status, stolen.json.code], path).toEqual([404, "E_NOT_FOUND"]);
        expect(stolen.json.message.replace(mine, "<id>")).toBe(absent.json.message.replace(missing, "<id>"));
      }
      expect((await other("GET", "/api/v1/runs")).json.items).toEqual([]);
      // The same files uploaded by the other workspace are its own snapshot, under another id.
      const theirs = await other("POST", "/api/v1/snapshots", { files: snapshotFiles(files) });
      expect(theirs.status).toBe(201);
      expect(theirs.json.id).not.toBe(mine);
    });
  },
);

describe.skipIf(skipWithout("python3-venv", venvMissing()))("server restart", () => {
  it("marks runs a previous server process lost as Failed", async () => {
    const t = makeTempDir("mlenv-restart-");
    try {
      const a = await startTestServer(startServer, { dataDir: t.path });
      await a.stop();
      const store = await openStore({ dataDir: t.path });
      const runs = openRunStore({ sqliteFile: join(t.path, "mlenv.db") });
      const ws = await store.getWorkspace("default");
      const lost = await runs.createRun({
        workspaceId: ws!.id,
        experiment: "lost",
        target: "local",
        script: "x.py",
        arguments: [],
        snapshot: "sha256:0",
        environment: {
          name: "e",
          version: 1,
          definitionHash: "h",
          imageKey: "k",
          definition: {},
          lock: null,
        },
        createdBy: "t",
      });
      await runs.setRunStatus(lost.id, "running", { pid: 999_999 });
      // its server stopped renewing the heartbeat an hour ago
      await runs.heartbeat([lost.id], new Date(Date.now() - 3_600_000));
      await runs.close();
      await store.close();
      const b = await startTestServer(startServer, { dataDir: t.path, token: a.token });
      const r = await apiClient(b.url, a.token)("GET", `/api/v1/runs/${lost.id}`);
      expect(r.json).toMatchObject({ status: "failed", error: { code: "E_SERVER_RESTARTED" } });
      await b.stop();
    } finally {
      t.cleanup();
    }
  }, 60_000);
});
