/**
 * GPUs on the docker target against the real engine of this machine (it has no NVIDIA runtime):
 * the device requests a container is created with, and the clear refusal at submit time.
 */
import { baseImageCpu, dockerAvailable, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { scriptSnapshot, useRunSupport } from "../../test/runSupport";
import { Gpus } from "./gpus";

const reason = await dockerAvailable();

describe.skipIf(skipWithout("docker", reason))("GPUs on the docker target (real engine)", () => {
  const fx = useRunSupport({
    prefix: "mlenv-docker-gpus-",
    docker: true,
    // one GPU on this machine, as nvidia-smi -L would list it
    gpus: new Gpus({
      devices: [{ index: 0, name: "FAKE GPU (not a real device)", uuid: null }],
      cuda: "12.4",
      cudaSource: "nvidia-smi",
      reason: null,
    }),
  });
  const { client } = fx;

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
    const { support, workspaceId } = fx;
    const snap = await scriptSnapshot(fx, "train.py", "print('hi')\n");
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
