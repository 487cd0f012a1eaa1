/**
 * GPUs on the local target, against the FAKE nvidia-smi of test/fixtures (CI has no NVIDIA
 * driver): parsing, allocation (exclusive unless shared, runs wait), CUDA_VISIBLE_DEVICES, the
 * run helper's GPU metrics and the errors at submit time. A real GPU is checked by
 * scripts/gpu-check.sh on a GPU machine.
 */
import { chmodSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiClient, snapshotFiles, spawnServer, venvMissing } from "../../test/helpers";
import { GpuAllocator } from "./allocator";
import { parseGpuList, queryGpus } from "./nvidia";

const FAKE = join(import.meta.dirname, "..", "..", "..", "..", "test", "fixtures", "fake-nvidia-smi");
const TOKEN = `mlenv_${"g".repeat(43)}`;

describe("nvidia-smi parsing and the allocator", () => {
  it("parses nvidia-smi -L, skipping MIG lines", () => {
    expect(
      parseGpuList(
        "GPU 0: NVIDIA H200 (UUID: GPU-0d5e0c4f-1111-2222-3333-444455556666)\n  MIG 1g.18gb     Device  0: (UUID: MIG-aaaa)\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-99)\n",
      ),
    ).toEqual([
      { index: 0, name: "NVIDIA H200", uuid: "GPU-0d5e0c4f-1111-2222-3333-444455556666" },
      { index: 1, name: "NVIDIA A100-SXM4-80GB", uuid: "GPU-99" },
    ]);
    expect(parseGpuList("No devices were found\n")).toEqual([]);
  });

  it("never gives an exclusive GPU twice; shares only between sharers", () => {
    const a = new GpuAllocator([0, 1].map((index) => ({ index, name: "G", uuid: null })));
    expect(a.tryAcquire("r1", { count: 1, share: false })).toEqual([0]);
    expect(a.tryAcquire("r2", { count: 2, share: false })).toBeNull();
    expect(a.tryAcquire("r2", { count: 1, share: false })).toEqual([1]);
    expect(a.tryAcquire("r3", { count: 1, share: true })).toBeNull();
    a.release("r1");
    expect(a.tryAcquire("s1", { count: 1, share: true })).toEqual([0]);
    expect(a.tryAcquire("s2", { count: 1, share: true })).toEqual([0]);
    expect(a.tryAcquire("x", { count: 1, share: false })).toBeNull();
    expect(a.holders(0)).toBe(2);
    a.release("s1");
    a.release("s2");
    expect(a.tryAcquire("x", { count: 1, share: false })).toEqual([0]);
  });

  it("queries a (fake) driver, and reports no GPU without nvidia-smi", async () => {
    const inv = await queryGpus({ command: FAKE, env: {} });
    expect(inv.devices).toHaveLength(1);
    expect(inv.cuda).toBe("12.4");
    const none = await queryGpus({ command: "/nonexistent/nvidia-smi", env: {} });
    expect(none).toMatchObject({ devices: [], cuda: null });
    expect(none.reason).toContain("is not on PATH");
    expect((await queryGpus({ command: FAKE, env: { CONDA_OVERRIDE_CUDA: "11.8" } })).cuda).toBe("11.8");
  });
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "runs and services with GPUs on the local target (FAKE nvidia-smi: 2 GPUs)",
  () => {
    const t = makeTempDir("mlenv-gpus-");
    let server: Awaited<ReturnType<typeof spawnServer>>;
    let api: ReturnType<typeof apiClient>;
    let snap = "";
    beforeAll(async () => {
      const bin = join(t.path, "bin");
      mkdirSync(bin);
      // a root server runs user code as another account: it must reach the fake nvidia-smi
      chmodSync(t.path, 0o755);
      symlinkSync(FAKE, join(bin, "nvidia-smi"));
      server = await spawnServer({
        MLENV_DATA_DIR: join(t.path, "data"),
        MLENV_BOOTSTRAP_TOKEN: TOKEN,
        PATH: `${bin}:${process.env.PATH}`,
        FAKE_NVIDIA_GPUS: "2",
      });
      api = apiClient(server.url, TOKEN);
      const env = await api("POST", "/api/v1/environments", {
        definition: { name: "gpu", python: { userManagedDependencies: true, interpreterPath: "python3" } },
      });
      expect(env.status, JSON.stringify(env.json)).toBeLessThan(300);
      const s = await api("POST", "/api/v1/snapshots", {
        files: snapshotFiles({
          "hold.py":
            "import os, sys, time\nstart = time.time()\ntime.sleep(float(sys.argv[1]))\nprint('HOLD %.3f %.3f %s' % (start, time.time(), os.environ.get('CUDA_VISIBLE_DEVICES')))\n",
          "score.py":
            "import os\ndef init():\n    pass\ndef run(raw):\n    return {'visible': os.environ.get('CUDA_VISIBLE_DEVICES')}\n",
        }),
      });
      snap = s.json.id;
    });
    afterAll(async () => {
      await server?.stop();
      t.cleanup();
    });

    const submit = (gpus: number, seconds: number, extra: Record<string, unknown> = {}) =>
      api("POST", "/api/v1/runs", {
        experiment: "gpu",
        script: "hold.py",
        snapshot: snap,
        arguments: [String(seconds)],
        environment: { name: "gpu" },
        gpus,
        ...extra,
      });
    // biome-ignore lint/suspicious/noExplicitAny: run JSON is checked field by field
    const final = async (id: string): Promise<any> => {
      for (;;) {
        const r = await api("GET", `/api/v1/runs/${id}`);
        if (["completed", "failed", "canceled"].includes(r.json.status)) return r.json;
        await new Promise((res) => setTimeout(res, 200));
      }
    };
    const hold = async (id: string) => {
      const logs = await api("GET", `/api/v1/runs/${id}/logs`);
      const lines = logs.json.items.map((l: { text: string }) => l.text) as string[];
      const h = lines.find((l) => l.startsWith("HOLD "))?.split(" ");
      return { start: Number(h?.[1]), end: Number(h?.[2]), visible: h?.[3], lines };
    };

    it("lists the machine's GPUs and __cuda", async () => {
      const r = await api("GET", "/api/v1/gpus");
      expect(r.json).toMatchObject({ cuda: "12.4", cudaSource: "nvidia-smi" });
      expect(r.json.devices.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    });

    it("gives runs distinct GPUs, makes a run wait for busy GPUs, hides GPUs from runs that ask for none, and records GPU metrics", async () => {
      const pair = [(await submit(1, 1)).json.id as string, (await submit(1, 1)).json.id as string];
      const runs = await Promise.all(pair.map(final));
      expect(runs.map((r) => r.status)).toEqual(["completed", "completed"]);
      const holds = await Promise.all(pair.map(hold));
      expect(new Set(holds.map((h) => h.visible))).toEqual(new Set(["0", "1"]));
      expect(runs[0].gpus).toMatchObject({ count: 1, share: false });
      expect(runs[0].gpus.devices).toHaveLength(1);
      // one GPU busy, a run asking for both waits (queued) until it is given back
      const one = (await submit(1, 2)).json.id as string;
      const both = (await submit(2, 0)).json.id as string;
      await Promise.all([final(one), final(both)]);
      const [h1, h2] = [await hold(one), await hold(both)];
      expect(h2.visible).toBe("0,1");
      expect(h2.start).toBeGreaterThanOrEqual(h1.end);
      expect(h2.lines.some((l) => l.includes("waiting for 2 free GPU(s)"))).toBe(true);
      const cpu = (await submit(0, 0)).json.id as string;
      expect((await final(cpu)).status).toBe("completed");
      expect((await hold(cpu)).visible).toBe("");
      const metrics = await api("GET", `/api/v1/runs/${pair[0]}/metrics`);
      const names = new Set(metrics.json.items.map((m: { name: string }) => m.name));
      const gpu = runs[0].gpus.devices[0];
      expect(names).toContain(`system/gpu${gpu}/utilization`);
      expect(names).toContain(`system/gpu${gpu}/memory_used_mib`);
      expect(names).not.toContain(`system/gpu${1 - gpu}/utilization`);
    }, 120_000);

    it("lets runs that share use the same GPU at once", async () => {
      const a = (await submit(2, 2, { shareGpus: true })).json.id as string;
      const b = (await submit(2, 2, { shareGpus: true })).json.id as string;
      await Promise.all([final(a), final(b)]);
      const [ha, hb] = [await hold(a), await hold(b)];
      expect(ha.visible).toBe("0,1");
      expect(hb.visible).toBe("0,1");
      expect(hb.start).toBeLessThan(ha.end);
    }, 60_000);

    it("fails at submit time when the machine has fewer GPUs, and checks the count", async () => {
      const r = await submit(3, 0);
      expect(r.status).toBe(409);
      expect(r.json.code).toBe("E_GPU_UNAVAILABLE");
      expect(r.json.message).toContain("asks for 3 GPU(s) but this server's machine has 2 GPU(s)");
      expect((await submit(-1, 0)).status).toBe(400);
      expect((await submit(1.5, 0)).status).toBe(400);
    });

    it("gives a service its GPUs while it lives; a second exclusive service fails naming why", async () => {
      const model = await api("POST", "/api/v1/models", {
        name: "m",
        files: snapshotFiles({ "m.txt": "x" }),
      });
      expect(model.status).toBeLessThan(300);
      const deploy = (name: string, gpus: number) =>
        api("POST", "/api/v1/services", {
          name,
          model: { name: "m" },
          entryScript: "score.py",
          snapshot: snap,
          environment: { name: "gpu" },
          deploymentConfig: { gpus },
        });
      // biome-ignore lint/suspicious/noExplicitAny: service JSON is checked field by field
      const settled = async (name: string): Promise<any> => {
        for (;;) {
          const r = await api("GET", `/api/v1/services/${name}`);
          if (["healthy", "failed"].includes(r.json.status)) return r.json;
          await new Promise((res) => setTimeout(res, 200));
        }
      };
      expect((await deploy("svc-a", 2)).status).toBe(201);
      const a = await settled("svc-a");
      expect(a.status).toBe("healthy");
      expect(a.deploymentConfig).toMatchObject({ gpus: 2, shareGpus: false });
      const scored = await api("POST", "/api/v1/services/svc-a/score", { data: [] });
      expect(scored.json).toEqual({ visible: "0,1" });
      expect((await deploy("svc-b", 1)).status).toBe(201);
      const b = await settled("svc-b");
      expect(b.status).toBe("failed");
      expect(b.error.code).toBe("E_GPU_BUSY");
      expect((await deploy("svc-c", 3)).json.code).toBe("E_GPU_UNAVAILABLE");
      expect((await api("DELETE", "/api/v1/services/svc-a")).status).toBe(204);
      expect((await api("DELETE", "/api/v1/services/svc-b")).status).toBe(204);
      // given back: a run gets them again
      const r = (await submit(2, 0)).json.id as string;
      expect((await final(r)).status).toBe("completed");
    }, 120_000);
  },
);
