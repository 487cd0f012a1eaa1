import type { DockerClient } from "../docker/client";
import { ServerError, ServerErrorCode } from "../errors";
import { GpuAllocator, type GpuRequest } from "./allocator";
import { type GpuInventory, queryGpus } from "./nvidia";

/** Largest number of GPUs one run or service may ask for. */
export const MAX_GPUS = 64;

/** Check the `gpus`/`shareGpus` of a request: a whole number 0-64. */
export function gpuRequest(count: unknown, share: unknown): GpuRequest {
  if (count === undefined || count === null) return { count: 0, share: share === true };
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0 || count > MAX_GPUS) {
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected gpus to be a whole number of GPUs from 0 to ${MAX_GPUS}, e.g. 1; received ${String(count).slice(0, 50)}`,
    );
  }
  return { count, share: share === true };
}

/**
 * This server machine's GPUs: the inventory from `nvidia-smi -L` (re-read when GPUs are asked
 * for), the `__cuda` version, and the allocator that hands indices to runs and services.
 */
export class Gpus {
  readonly allocator: GpuAllocator;
  #inventory: GpuInventory;
  readonly #command: string;

  constructor(inventory: GpuInventory, options: { command?: string } = {}) {
    this.#inventory = inventory;
    this.#command = options.command ?? "nvidia-smi";
    this.allocator = new GpuAllocator(inventory.devices);
  }

  /** Read the inventory now (`options.command` replaces `nvidia-smi`, e.g. `MLENV_NVIDIA_SMI`). */
  static async open(options: { command?: string } = {}): Promise<Gpus> {
    return new Gpus(await queryGpus(options.command ? { command: options.command } : {}), options);
  }

  get inventory(): GpuInventory {
    return this.#inventory;
  }

  /** Re-read `nvidia-smi -L` (a driver installed or a GPU added after start). */
  async refresh(): Promise<GpuInventory> {
    this.#inventory = await queryGpus({ command: this.#command });
    this.allocator.setDevices(this.#inventory.devices);
    return this.#inventory;
  }

  /**
   * Fail at submit time when this machine can never give `request.count` GPUs (never a run that
   * silently uses the CPU); with enough GPUs the run waits until they are free.
   */
  async check(request: GpuRequest, what: string): Promise<void> {
    if (request.count === 0) return;
    const inv = await this.refresh();
    if (inv.devices.length >= request.count) return;
    const have =
      inv.devices.length === 0
        ? `this server's machine has no GPU (${inv.reason ?? "nvidia-smi -L listed none"})`
        : `this server's machine has ${inv.devices.length} GPU(s) (${inv.devices.map((d) => `${d.index}: ${d.name}`).join(", ")})`;
    throw new ServerError(
      ServerErrorCode.GPU_UNAVAILABLE,
      `The ${what} asks for ${request.count} GPU(s) but ${have}; ask for at most ${inv.devices.length} or use a server on a GPU machine`,
      { details: { requested: request.count, available: inv.devices.length } },
    );
  }

  /** Fail at submit time when the Docker engine cannot hand GPUs to containers (no NVIDIA runtime). */
  async checkDocker(client: DockerClient, request: GpuRequest, what: string): Promise<void> {
    if (request.count === 0) return;
    const runtimes = await client.runtimes();
    if (!runtimes.includes("nvidia")) {
      throw new ServerError(
        ServerErrorCode.GPU_UNAVAILABLE,
        `The ${what} asks for ${request.count} GPU(s) on the docker target but the Docker engine has no NVIDIA runtime (its runtimes: ${runtimes.join(", ") || "none"}); install the NVIDIA Container Toolkit on the engine's machine and run "nvidia-ctk runtime configure --runtime=docker", or use the local target`,
        { details: { requested: request.count, runtimes } },
      );
    }
    await this.check(request, what);
  }
}

/**
 * Refuse (E_GPU_UNAVAILABLE) GPUs a run or a service asks for that this server cannot give: it
 * has no GPU support, or the machine (with `docker`, also its Docker engine) lacks them.
 */
export async function checkGpusAvailable(options: {
  gpus: Gpus | undefined;
  request: GpuRequest;
  what: "run" | "service";
  /** The Docker engine, when the run or service goes to the docker target. */
  docker: DockerClient | undefined;
}): Promise<void> {
  const { gpus, request, what, docker } = options;
  if (request.count === 0) return;
  if (!gpus) {
    throw new ServerError(
      ServerErrorCode.GPU_UNAVAILABLE,
      `The ${what} asks for ${request.count} GPU(s) but this server has no GPU support configured`,
    );
  }
  if (docker) await gpus.checkDocker(docker, request, what);
  else await gpus.check(request, what);
}
