/**
 * GPUs on the docker target against the real engine of this machine (it has no NVIDIA runtime):
 * the device requests a container is created with, and the clear refusal at submit time.
 */
import { join } from "node:path";
import { baseImageCpu, dockerAvailable, makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FsBlobStore } from "../blobs/blobStore";
import { coreRenderer, ImageBuilder } from "../builds/builder";
import { DockerClient } from "../docker/client";
import { Registry } from "../environments/registry";
import { silentLogger } from "../logger";
import { storeSnapshot } from "../runs/snapshot";
import { openRunSupport, type RunSupport } from "../runs/support";
import { openStore } from "../server";
import type { Store } from "../store/types";
import { Gpus } from "./gpus";

const reason = await dockerAvailable();

describe.skipIf(skipWithout("docker", reason))("GPUs on the docker target (real engine)", () => {
  const t = makeTempDir("mlenv-docker-gpus-");
  const client = new DockerClient();
  let store: Store;
  let support: RunSupport;
  let workspaceId: string;
  const blobs = new FsBlobStore(join(t.path, "blobs"));
  beforeAll(async () => {
    store = await openStore({ dataDir: t.path });
    await new Registry({ store, blobs }).bootstrap(undefined);
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
      // one GPU on this machine, as nvidia-smi -L would list it
      gpus: new Gpus({
        devices: [{ index: 0, name: "FAKE GPU (not a real device)", uuid: null }],
        cuda: "12.4",
        cudaSource: "nvidia-smi",
        reason: null,
      }),
    });
    await support.start();
  });
  afterAll(async () => {
    await support?.close();
    await store?.close();
    t.cleanup();
  });

  it("creates containers with Engine API device requests for the given GPU indices", async () => {
    const id = await client.createContainer({ image: baseImageCpu(), cmd: ["true"], gpuDeviceIds: [0, 1] });
    try {
      const inspect = await client.inspectContainer(id);
      expect(inspect?.HostConfig?.DeviceRequests).toEqual([
        expect.objectContaining({ Driver: "nvidia", DeviceIDs: ["0", "1"], Capabilities: [["gpu"]] }),
      ]);
    } finally {
      await client.removeContainer(id);
    }
    await expect(
      client.createContainer({ image: baseImageCpu(), cmd: ["true"], gpuDeviceIds: [-1] }),
    ).rejects.toThrow("Expected GPU indices 0-4095");
  });

  it("refuses a GPU run at submit time when the engine has no NVIDIA runtime, naming what is missing", async () => {
    const runtimes = await client.runtimes();
    expect(runtimes).not.toContain("nvidia");
    const snap = await storeSnapshot(
      blobs,
      workspaceId,
      [{ path: "train.py", content: Buffer.from("print('hi')\n").toString("base64") }],
      1024 * 1024,
    );
    const submit = (gpus: number) =>
      support.runs.submit({
        workspaceId,
        createdBy: "test",
        experiment: "gpu",
        script: "train.py",
        arguments: [],
        snapshot: snap.id,
        target: "docker",
        environment: { definition: { name: "docker-gpu", docker: { baseImage: baseImageCpu() } } },
        gpus: { count: gpus, share: false },
      });
    const refused = (await submit(1).then(
      () => null,
      (e: unknown) => e,
    )) as { code: string; message: string } | null;
    expect(refused).toMatchObject({ code: "E_GPU_UNAVAILABLE" });
    expect(refused?.message).toContain("the Docker engine has no NVIDIA runtime (its runtimes: ");
    expect(refused?.message).toContain("NVIDIA Container Toolkit");
    expect(await support.runs.store.listRuns({ workspaceId })).toEqual([]);
  });
});
