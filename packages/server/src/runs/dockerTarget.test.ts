import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { baseImageCpu, dockerAvailable, makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsBlobStore } from "../blobs/blobStore";
import { coreRenderer, ImageBuilder } from "../builds/builder";
import { DockerClient } from "../docker/client";
import { Registry } from "../environments/registry";
import { silentLogger } from "../logger";
import { registerModel } from "../models/models";
import { openStore } from "../server";
import type { Store } from "../store/types";
import { storeSnapshot } from "./snapshot";
import { openRunSupport, type RunSupport } from "./support";

const reason = await dockerAvailable();

describe.skipIf(skipWithout("docker", reason))(
  "runs on the docker target (real engine, host network)",
  () => {
    const t = makeTempDir("mlenv-docker-runs-");
    const client = new DockerClient();
    let store: Store;
    let support: RunSupport;
    let workspaceId: string;
    const blobs = new FsBlobStore(join(t.path, "blobs"));
    const images = new Set<string>();
    beforeAll(async () => {
      store = await openStore({ dataDir: t.path });
      const registry = new Registry({ store, blobs });
      await registry.bootstrap(undefined);
      workspaceId = (await store.getWorkspace("default"))!.id;
      const builder = new ImageBuilder({
        docker: client,
        render: coreRenderer({ condaExecutable: null }),
        registry: null,
      });
      support = openRunSupport({
        dataDir: t.path,
        store,
        blobs,
        logger: silentLogger,
        docker: { builder, client },
      });
      await support.start();
    });
    afterAll(async () => {
      await support?.close();
      await store?.close();
      for (const i of images) await client.removeImage(i, { force: true }).catch(() => false);
      t.cleanup();
    });

    it("runs the script in the environment's image: output, metrics, outputs, exit code", async () => {
      const definition = {
        name: "docker-env",
        docker: { baseImage: baseImageCpu() },
        environmentVariables: { MODE: "container" },
      };
      const snap = await storeSnapshot(
        blobs,
        workspaceId,
        [
          {
            path: "train.py",
            content: Buffer.from(
              [
                "import os, sys, json, mlenv_run",
                "print('in', os.environ['MODE'], sys.argv[1:])",
                "mlenv_run.log('acc', 0.75)",
                "os.makedirs('outputs', exist_ok=True)",
                "json.dump({'w': 1}, open('outputs/model.json', 'w'))",
                "sys.exit(int(sys.argv[1]))",
              ].join("\n"),
            ).toString("base64"),
          },
        ],
        1024 * 1024,
      );
      const submit = (code: string) =>
        support.runs.submit({
          workspaceId,
          createdBy: "t",
          experiment: "docker",
          script: "train.py",
          arguments: [code],
          snapshot: snap.id,
          target: "docker",
          environment: { definition },
        });
      const wait = async (id: string) => {
        for (;;) {
          const r = await support.runStore.getRun(id);
          if (r && ["completed", "failed", "canceled"].includes(r.status)) return r;
          await new Promise((res) => setTimeout(res, 200));
        }
      };
      const ok = await wait((await submit("0")).id);
      const text = (await support.runStore.logs(ok.id)).map((l) => l.text).join("\n");
      expect(ok.status, text).toBe("completed");
      expect(text).toContain("in container ['0']");
      expect(text).toMatch(/running in container [0-9a-f]{12} \(no network\)/);
      expect(ok.artifacts.map((a) => a.path)).toEqual(["outputs/model.json"]);
      expect(await support.runStore.metrics(ok.id)).toMatchObject([{ name: "acc", value: 0.75 }]);
      images.add(
        `mlenv/env_${ok.environment.imageKey.slice(ok.environment.imageKey.lastIndexOf(":") + 1)}:latest`,
      );

      const bad = await wait((await submit("5")).id);
      expect(bad).toMatchObject({ status: "failed", exitCode: 5, error: { code: "E_SCRIPT_FAILED" } });
      // the second run reuses the image built for the first (same image key)
      expect(
        (await support.runStore.logs(bad.id)).some((l) =>
          /^image mlenv\/env_[0-9a-f]{64}:latest \(cached\)$/.test(l.text),
        ),
      ).toBe(true);
    }, 600_000);

    it("gives a run no network unless it asks: it cannot reach a loopback service of the host, yet reports metrics and outputs", async () => {
      // another workspace's local service, listening on the host's loopback
      const probe = createServer((socket) => socket.end("secret"));
      await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
      const port = (probe.address() as AddressInfo).port;
      try {
        const script = [
          "import os, socket, sys, mlenv_run",
          "try:",
          "    s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)",
          "    print('REACHED', s.recv(100).decode())",
          "except OSError as e:",
          "    print('BLOCKED', type(e).__name__)",
          "mlenv_run.log('probed', 1)",
          "os.makedirs('outputs', exist_ok=True)",
          "open('outputs/done.txt', 'w').write('ok')",
        ].join("\n");
        const snap = await storeSnapshot(
          blobs,
          workspaceId,
          [{ path: "probe.py", content: Buffer.from(script).toString("base64") }],
          1024 * 1024,
        );
        const runWith = async (network: boolean) => {
          const run = await support.runs.submit({
            workspaceId,
            createdBy: "t",
            experiment: "net",
            script: "probe.py",
            arguments: [String(port)],
            snapshot: snap.id,
            target: "docker",
            environment: { definition: { name: "docker-env", docker: { baseImage: baseImageCpu() } } },
            ...(network ? { network: true } : {}),
          });
          for (;;) {
            const r = await support.runStore.getRun(run.id);
            if (r && ["completed", "failed", "canceled"].includes(r.status)) {
              const text = (await support.runStore.logs(r.id)).map((l) => l.text).join("\n");
              return { r, text };
            }
            await new Promise((res) => setTimeout(res, 200));
          }
        };
        const closed = await runWith(false);
        expect(closed.r.status, closed.text).toBe("completed");
        expect(closed.r.network).toBe(false);
        expect(closed.text).toContain("BLOCKED");
        expect(closed.text).not.toContain("REACHED");
        expect(await support.runStore.metrics(closed.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
        expect(closed.r.artifacts.map((a) => a.path)).toEqual(["outputs/done.txt"]);
        const open = await runWith(true);
        expect(open.r.status, open.text).toBe("completed");
        expect(open.r.network).toBe(true);
        expect(open.text).toContain("REACHED secret");
        expect(open.text).toMatch(/running in container [0-9a-f]{12} \(host network, as the run asked\)/);
      } finally {
        probe.close();
      }
    }, 600_000);

    it("datastore arguments: a read-only bind mount and a download into the container's working directory", async () => {
      const data = join(t.path, "datasets", "numbers");
      mkdirSync(data, { recursive: true });
      writeFileSync(join(data, "values.txt"), "1\n2\n3\n");
      await support.compute.createDatastore(workspaceId, "t", {
        name: "numbers",
        kind: "directory",
        path: data,
      });
      await support.compute.createDatastore(workspaceId, "t", { name: "labels", kind: "blob" });
      const b64 = (x: string) => Buffer.from(x).toString("base64");
      const up = await support.compute.uploadVersion(workspaceId, "t", "labels", [
        { path: "labels.csv", content: b64("a,b\n") },
        { path: "more/x.txt", content: b64("x") },
      ]);
      const script = [
        "import os, sys",
        "mount, download, blob = sys.argv[1], sys.argv[2], sys.argv[3]",
        "print('mount', mount, sum(int(x) for x in open(os.path.join(mount, 'values.txt'))))",
        "try:",
        "    open(os.path.join(mount, 'new.txt'), 'w').write('x')",
        "    print('mount writable')",
        "except OSError as e:",
        "    print('mount read-only', e.errno)",
        "print('download', open(os.path.join(download, 'labels.csv')).read().strip(), os.path.isfile(os.path.join(download, 'more', 'x.txt')))",
        "print('inside', os.path.realpath(download).startswith(os.path.realpath(os.getcwd())), os.path.relpath(download))",
        "print('blob', blob, open(os.path.join(blob, 'more', 'x.txt')).read())",
        "print('in container', os.path.exists('/.dockerenv'))",
      ].join("\n");
      const snap = await storeSnapshot(
        blobs,
        workspaceId,
        [{ path: "data.py", content: b64(script) }],
        1024 * 1024,
      );
      const run = await support.runs.submit({
        workspaceId,
        createdBy: "t",
        experiment: "data",
        script: "data.py",
        arguments: [
          { datastore: "numbers", mode: "mount" },
          { datastore: "labels", mode: "download" },
          { datastore: "labels", mode: "mount", version: 1 },
        ],
        snapshot: snap.id,
        target: "docker",
        environment: { definition: { name: "docker-env", docker: { baseImage: baseImageCpu() } } },
      });
      let r = await support.runStore.getRun(run.id);
      while (r && !["completed", "failed", "canceled"].includes(r.status)) {
        await new Promise((res) => setTimeout(res, 200));
        r = await support.runStore.getRun(run.id);
      }
      const text = (await support.runStore.logs(run.id)).map((l) => l.text).join("\n");
      expect(r?.status, text).toBe("completed");
      expect(text).toContain("mount /mnt/mlenv/data/0 6");
      expect(text).toMatch(/mount read-only 30\b/); // EROFS
      expect(text).toContain("download a,b True");
      expect(text).toContain("inside True inputs/labels");
      expect(text).toContain("blob /mnt/mlenv/data/2 x");
      expect(text).toContain("in container True");
      expect(text).toContain(`input numbers (mount): ${data} mounted read-only at /mnt/mlenv/data/0`);
      // nothing was written into the datastore's directory
      expect(existsSync(join(data, "new.txt"))).toBe(false);
      expect(r?.inputs).toEqual([
        expect.objectContaining({ datastore: "numbers", mode: "mount", kind: "directory", path: data }),
        expect.objectContaining({
          datastore: "labels",
          mode: "download",
          kind: "blob",
          version: 1,
          digest: up.version.digest,
        }),
        expect.objectContaining({ datastore: "labels", mode: "mount", kind: "blob", version: 1 }),
      ]);
    }, 600_000);

    it("serves a model from a host-network container of the environment's image", async () => {
      const b64 = (t: string) => Buffer.from(t).toString("base64");
      const { model } = await registerModel({
        store: support.runStore,
        blobs,
        workspaceId,
        createdBy: "t",
        name: "docker-model",
        files: [{ path: "model.json", content: b64('{"w": 3}') }],
      });
      const score = [
        "import json, os",
        "def init():",
        "    global m",
        "    m = json.load(open(os.path.join(os.environ['AZUREML_MODEL_DIR'], 'model.json')))",
        "def run(raw):",
        "    return {'y': [m['w'] * x for x in json.loads(raw)['data']], 'in_container': os.path.exists('/.dockerenv')}",
      ].join("\n");
      const snap = await storeSnapshot(
        blobs,
        workspaceId,
        [{ path: "score.py", content: b64(score) }],
        1024 * 1024,
      );
      const svc = await support.services.deploy({
        workspaceId,
        createdBy: "t",
        name: "docker-svc",
        target: "docker",
        model: { name: model.name, version: model.version },
        entryScript: "score.py",
        snapshot: snap.id,
        environment: { definition: { name: "docker-env", docker: { baseImage: baseImageCpu() } } },
      });
      let live = svc;
      const end = Date.now() + 300_000;
      while (live.status !== "healthy" && Date.now() < end) {
        if (live.status === "failed") throw new Error(JSON.stringify(live.error));
        await new Promise((r) => setTimeout(r, 200));
        live = (await support.runStore.getService(svc.id)) ?? live;
      }
      expect(live).toMatchObject({ status: "healthy", target: "docker" });
      // the container shares the host's loopback, but /score needs the service's token
      const stranger = await fetch(`${live.url}/score`, { method: "POST", body: '{"data": [1, 2]}' });
      expect(stranger.status).toBe(401);
      const res = await fetch(`${live.url}/score`, {
        method: "POST",
        headers: await support.services.workerHeaders(svc.id),
        body: '{"data": [1, 2]}',
      });
      expect(await res.json()).toEqual({ y: [3, 6], in_container: true });
      const logs = (await support.runStore.logs(svc.id)).map((l) => l.text).join("\n");
      expect(logs).toMatch(
        /worker container [0-9a-f]{12} \(host network; \/score needs the service's token\)/,
      );
      await support.services.delete(live);
      await expect(fetch(`${live.url}/healthz`)).rejects.toThrow();
      expect(await client.inspectImage(`mlenv/service_${svc.id.replace(/-/g, "")}:latest`)).toBeNull();
    }, 600_000);
  },
);
