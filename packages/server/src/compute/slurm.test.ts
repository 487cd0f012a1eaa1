import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type SlurmCluster,
  skipWithout,
  slurmMissing,
  startSlurm,
  startTestServer,
  type TestServer,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../server";
import { apiClient, snapshotFiles, venvMissing } from "../runs/testHelpers";

const TRAIN = `
import json, os, sys
import mlenv_run
print("training with", sys.argv[1:])
for loss in [0.5, 0.25]:
    mlenv_run.log("loss", loss)
os.makedirs("outputs", exist_ok=True)
with open("outputs/model.json", "w") as f:
    json.dump({"weight": 2.0, "user": os.getuid()}, f)
print("done", file=sys.stderr)
`;

const missing = slurmMissing() ?? venvMissing();

describe.skipIf(skipWithout("slurm", missing))("runs on a real one-node Slurm cluster", () => {
  let slurm: SlurmCluster;
  let server: TestServer;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    slurm = await startSlurm();
    process.env.MLENV_CLUSTER_POLL_MS = "300";
    server = await startTestServer(startServer);
    api = apiClient(server.url, server.token);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await slurm?.stop();
  });

  async function snapshot(files: Record<string, string>): Promise<string> {
    const r = await api("POST", "/api/v1/snapshots", { files: snapshotFiles(files) });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    return r.json.id;
  }

  // biome-ignore lint/suspicious/noExplicitAny: run JSON checked field by field
  async function waitFor(id: string, ok: (run: any) => boolean, timeoutMs = 120_000): Promise<any> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const r = await api("GET", `/api/v1/runs/${id}`);
      if (ok(r.json)) return r.json;
      if (Date.now() > end) throw new Error(`run ${id} still ${r.json.status}: ${JSON.stringify(r.json.compute)}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  const final = (id: string, timeoutMs?: number) =>
    waitFor(id, (r) => ["completed", "failed", "canceled"].includes(r.status), timeoutMs);

  async function logText(id: string): Promise<string> {
    const r = await api("GET", `/api/v1/runs/${id}/logs`);
    return r.json.items.map((l: { text: string }) => l.text).join("\n");
  }

  async function submit(files: Record<string, string>, extra: Record<string, unknown> = {}) {
    const snap = await snapshot(files);
    return api("POST", "/api/v1/runs", {
      experiment: "slurm",
      script: "train.py",
      snapshot: snap,
      target: "cluster",
      ...extra,
    });
  }

  it("attaches the cluster as a compute target (validated), listed after local and docker", async () => {
    const r = await api("POST", "/api/v1/compute", {
      kind: "slurm",
      name: "cluster",
      restUrl: slurm.restUrl,
      sharedDir: slurm.sharedDir,
      partition: "main",
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
    expect(r.json).toMatchObject({ name: "cluster", kind: "slurm", credentials: "none" });
    const list = await api("GET", "/api/v1/compute");
    expect(list.json.items.map((t: { name: string }) => t.name)).toEqual(["local", "docker", "cluster"]);
  });

  it("runs a script: logs, metrics and outputs come back, the run names its job", async () => {
    const sub = await submit({ "train.py": TRAIN }, { arguments: ["--lr", "0.1; rm -rf /"] });
    expect(sub.status, JSON.stringify(sub.json)).toBe(201);
    const run = await final(sub.json.id);
    expect(run.status, await logText(run.id)).toBe("completed");
    expect(run.target).toBe("cluster");
    expect(run.compute).toMatchObject({ kind: "slurm", target: "cluster", state: "COMPLETED" });
    expect(run.compute.jobIds).toHaveLength(1);
    const log = await logText(run.id);
    expect(log).toContain("training with ['--lr', '0.1; rm -rf /']");
    expect(log).toContain("done");
    expect(log).toMatch(/submitted Slurm job \d+/);
    const metrics = await api("GET", `/api/v1/runs/${run.id}/metrics`);
    expect(metrics.json.items.map((m: { value: number }) => m.value)).toEqual([0.5, 0.25]);
    expect(run.artifacts.map((a: { path: string }) => a.path)).toEqual(["outputs/model.json"]);
    const model = await fetch(`${server.url}/api/v1/runs/${run.id}/artifacts/content?path=outputs/model.json`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    const body = JSON.parse(await model.text());
    // the job ran as the cluster user, not as the server's root
    expect(body.weight).toBe(2.0);
    expect(body.user).not.toBe(0);
  }, 180_000);
});
