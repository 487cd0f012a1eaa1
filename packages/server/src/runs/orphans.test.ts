import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseImageCpu, dockerAvailable, makeTempDir, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import {
  apiClient,
  processesWith,
  serviceRequest,
  snapshotFiles,
  spawnServer,
  venvMissing,
} from "../../test/helpers";
import { DockerClient } from "../docker/client";
import { ownerLabels, ProcessRegistry, processStartTime, sweepContainers } from "./orphans";

async function until<T>(fn: () => Promise<T | null>, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 150));
  }
}

const SCORE = `
import json
def init():
    pass
def run(raw):
    return {"ok": json.loads(raw)["x"]}
`;

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "a crashed server leaves nothing running (issue 14 item 6)",
  () => {
    it("SIGKILL while a run and a service run: no orphan; the restarted server serves the service on its port", async () => {
      const data = makeTempDir("mlenv-crash-");
      const token = `mlenv_${"c".repeat(43)}`;
      const env = {
        MLENV_DATA_DIR: data.path,
        MLENV_BOOTSTRAP_TOKEN: token,
        MLENV_SERVICE_HEARTBEAT_MS: "200",
      };
      let srv = await spawnServer(env);
      try {
        const api = apiClient(srv.url, token);
        const marker = `mlenv-orphan-${Date.now()}`;
        // the run's script starts a child of its own: both must go with the server
        const script = [
          "import subprocess, sys, time",
          `subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)', '${marker}'])`,
          "print('started', flush=True)",
          "time.sleep(120)",
        ].join("\n");
        const snap = await api("POST", "/api/v1/snapshots", {
          files: snapshotFiles({ "long.py": script, "score.py": SCORE }),
        });
        const run = await api("POST", "/api/v1/runs", {
          experiment: "x",
          script: "long.py",
          snapshot: snap.json.id,
        });
        expect(run.status, JSON.stringify(run.json)).toBe(201);
        await api("POST", "/api/v1/models", { name: "m", files: snapshotFiles({ "m.json": "{}" }) });
        const dep = await api("POST", "/api/v1/services", serviceRequest("svc", "m", snap.json.id));
        expect(dep.status, JSON.stringify(dep.json)).toBe(201);
        const url = await until(async () => {
          const s = await api("GET", "/api/v1/services/svc");
          return s.json.status === "healthy" ? (s.json.url as string) : null;
        });
        await until(async () => (processesWith(marker).length > 0 ? true : null));
        expect(processesWith(data.path).length).toBeGreaterThan(0);

        await srv.crash();
        // the run, its child and the service worker die with the server
        await until(
          async () => (processesWith(marker).length + processesWith(data.path).length === 0 ? true : null),
          10_000,
        ).catch(() => {});
        expect(processesWith(marker)).toEqual([]);
        expect(processesWith(data.path)).toEqual([]);

        srv = await spawnServer(env);
        const api2 = apiClient(srv.url, token);
        // the service comes back on its port (nothing holds it)
        const answer = await until(async () => {
          const r = await api2("POST", "/api/v1/services/svc/score", { x: 5 });
          return r.status === 200 ? (r.json as { ok: number }) : null;
        }, 30_000);
        expect(answer).toEqual({ ok: 5 });
        const s = await api2("GET", "/api/v1/services/svc");
        expect([s.json.status, s.json.url]).toEqual(["healthy", url]);
        // the run is lost (its heartbeat stops): marked failed, not left running
        const lost = await until(async () => {
          const r = await api2("GET", `/api/v1/runs/${run.json.id}`);
          return r.json.status === "running" ? null : r.json;
        }, 60_000);
        expect([lost.status, lost.error?.code]).toEqual(["failed", "E_SERVER_RESTARTED"]);
      } finally {
        await srv.stop();
        data.cleanup();
      }
    }, 180_000);
  },
);

describe("the process registry", () => {
  it("a restarted server kills the process groups a crashed one recorded (members too), not a live one's", async () => {
    const data = makeTempDir("mlenv-procs-");
    try {
      const marker = `mlenv-sweep-dead-${Date.now()}`;
      const liveMarker = `mlenv-sweep-live-${Date.now()}`;
      // a server stand-in: records a group whose leader has a child, then crashes (SIGKILL)
      const fixture = join(data.path, "crash.mts");
      writeFileSync(
        fixture,
        `import { spawn } from "node:child_process";
import { ProcessRegistry } from ${JSON.stringify(join(import.meta.dirname, "orphans.ts"))};
const reg = new ProcessRegistry(${JSON.stringify(data.path)});
const nap = "python3 -c 'import time; time.sleep(300)' ${marker}";
const g = spawn("sh", ["-c", nap + " & exec " + nap], { detached: true, stdio: "ignore" });
await new Promise((r) => setTimeout(r, 200));
await reg.record("run-crashed", g.pid, null);
process.stdout.write("ready\\n");
setInterval(() => {}, 1000);
`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", fixture], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await new Promise<void>((resolve) =>
        child.stdout.on("data", (d: Buffer) => d.includes("ready") && resolve()),
      );
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      // orphans: nobody killed them (polled: under load `sh` may not have exec'd python yet)
      await until(async () => (processesWith(marker).length === 2 ? true : null), 20_000);
      expect(processesWith(marker)).toHaveLength(2);

      // a live server's group is left alone
      const mine = new ProcessRegistry(data.path);
      const live = spawn("python3", ["-c", "import time; time.sleep(300)", liveMarker], {
        detached: true,
        stdio: "ignore",
      });
      await mine.record("run-live", live.pid, null);
      try {
        // `python3` may be a shim (pyenv) whose helper processes carry the marker until it execs
        await until(async () => (processesWith(liveMarker).length === 1 ? true : null), 20_000);
        expect(await new ProcessRegistry(data.path).sweep()).toBeGreaterThanOrEqual(2);
        await until(async () => (processesWith(marker).length === 0 ? true : null), 5000).catch(() => {});
        expect(processesWith(marker)).toEqual([]);
        expect(processesWith(liveMarker)).toHaveLength(1);
      } finally {
        live.kill("SIGKILL");
        await mine.forget("run-live");
      }
    } finally {
      data.cleanup();
    }
  }, 60_000);
});

const dockerReason = await dockerAvailable();

describe.skipIf(skipWithout("docker", dockerReason))("orphaned containers", () => {
  it("a restarted server removes the containers of a crashed process of its data dir, not others'", async () => {
    const client = new DockerClient();
    const data = makeTempDir("mlenv-containers-");
    const me = { pid: process.pid, start: processStartTime(process.pid)! };
    const dead = { pid: 999_999_999, start: 1 };
    const ids: string[] = [];
    try {
      const make = async (labels: Record<string, string>) => {
        const id = await client.createContainer({ image: baseImageCpu(), cmd: ["true"], labels });
        ids.push(id);
        return id;
      };
      const orphan = await make(ownerLabels(data.path, dead));
      const live = await make(ownerLabels(data.path, me));
      const otherDir = makeTempDir("mlenv-containers-other-");
      const foreign = await make(ownerLabels(otherDir.path, dead));
      otherDir.cleanup();
      expect(await sweepContainers(client, data.path, me)).toBe(1);
      expect(await client.inspectContainer(orphan)).toBeNull();
      expect(await client.inspectContainer(live)).not.toBeNull();
      expect(await client.inspectContainer(foreign)).not.toBeNull();
    } finally {
      for (const id of ids) await client.removeContainer(id).catch(() => false);
      data.cleanup();
    }
  }, 60_000);
});
