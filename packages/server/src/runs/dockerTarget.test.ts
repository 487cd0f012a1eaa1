import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseImageCpu, dockerAvailable, skipWithout } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { probeLoopback, scriptSnapshot, useRunSupport, waitForRun } from "../../test/runSupport";
import { registerModel } from "../models/models";

const reason = await dockerAvailable();

describe.skipIf(skipWithout("docker", reason))(
  "runs on the docker target (real engine, host network)",
  () => {
    const fx = useRunSupport({ prefix: "mlenv-docker-runs-", docker: true });
    const { blobs, client } = fx;
    const images = new Set<string>();
    afterAll(async () => {
      for (const i of images) await client.removeImage(i, { force: true }).catch(() => false);
    });

    it("runs the script in the environment's image: output, metrics, outputs, exit code", async () => {
      const definition = {
        name: "docker-env",
        docker: { baseImage: baseImageCpu() },
        environmentVariables: { MODE: "container" },
      };
      const snap = await scriptSnapshot(
        fx,
        "train.py",
        [
          "import os, sys, json, mlenv_run",
          "print('in', os.environ['MODE'], sys.argv[1:])",
          "mlenv_run.log('acc', 0.75)",
          "os.makedirs('outputs', exist_ok=True)",
          "json.dump({'w': 1}, open('outputs/model.json', 'w'))",
          "sys.exit(int(sys.argv[1]))",
        ].join("\n"),
      );
      const { support, workspaceId } = fx;
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
      const wait = async (id: string) => (await waitForRun(support, id)).r;
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
      const { closed, open } = await probeLoopback(fx, {
        target: "docker",
        definition: { name: "docker-env", docker: { baseImage: baseImageCpu() } },
      });
      const { support } = fx;
      expect(closed.r.status, closed.text).toBe("completed");
      expect(closed.r.network).toBe(false);
      expect(closed.text).toContain("BLOCKED");
      expect(closed.text).not.toContain("REACHED");
      expect(await support.runStore.metrics(closed.r.id)).toMatchObject([{ name: "probed", value: 1 }]);
      expect(closed.r.artifacts.map((a) => a.path)).toEqual(["outputs/done.txt"]);
      expect(open.r.status, open.text).toBe("completed");
      expect(open.r.network).toBe(true);
      expect(open.text).toContain("REACHED secret");
      expect(open.text).toMatch(/running in container [0-9a-f]{12} \(host network, as the run asked\)/);
    }, 600_000);

    it("datastore arguments: a read-only bind mount and a download into the container's working directory", async () => {
      const { support, workspaceId } = fx;
      const data = join(fx.path, "datasets", "numbers");
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
      const snap = await scriptSnapshot(fx, "data.py", script);
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
      const { r, text } = await waitForRun(support, run.id);
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
      const { support, workspaceId } = fx;
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
      const snap = await scriptSnapshot(fx, "score.py", score);
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
