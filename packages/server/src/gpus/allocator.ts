import type { GpuDevice } from "./nvidia";

/** What a run or service asks for: `count` GPUs, exclusively unless `share`. */
export interface GpuRequest {
  count: number;
  share: boolean;
}

interface Hold {
  owner: string;
  shared: boolean;
}

/**
 * Hands GPU indices of this machine to runs and services: a GPU held exclusively is never given to
 * anyone else; a GPU may be held by several owners only when every one of them asked to share.
 */
export class GpuAllocator {
  #devices: GpuDevice[];
  readonly #holds = new Map<number, Hold[]>();

  constructor(devices: GpuDevice[]) {
    this.#devices = devices;
  }

  get devices(): readonly GpuDevice[] {
    return this.#devices;
  }

  /** Replace the inventory (indices that disappeared keep their holds until released). */
  setDevices(devices: GpuDevice[]): void {
    this.#devices = devices;
  }

  /** How many runs/services hold GPU `index`. */
  holders(index: number): number {
    return this.#holds.get(index)?.length ?? 0;
  }

  /** Indices held by `owner`. */
  heldBy(owner: string): number[] {
    return [...this.#holds.entries()].filter(([, h]) => h.some((x) => x.owner === owner)).map(([i]) => i);
  }

  /** GPU indices now free for this request, least used first; null when not enough are. */
  #pick(request: GpuRequest): number[] | null {
    const usable = this.#devices
      .map((d) => ({ index: d.index, holds: this.#holds.get(d.index) ?? [] }))
      .filter((d) => d.holds.length === 0 || (request.share && d.holds.every((h) => h.shared)))
      .sort((a, b) => a.holds.length - b.holds.length || a.index - b.index);
    return usable.length >= request.count
      ? usable
          .slice(0, request.count)
          .map((d) => d.index)
          .sort((a, b) => a - b)
      : null;
  }

  /** Take GPUs for `owner`, or null (nothing taken) when not enough are free now. */
  tryAcquire(owner: string, request: GpuRequest): number[] | null {
    if (request.count <= 0) return [];
    const picked = this.#pick(request);
    if (!picked) return null;
    for (const i of picked)
      this.#holds.set(i, [...(this.#holds.get(i) ?? []), { owner, shared: request.share }]);
    return picked;
  }

  /** Give back everything `owner` holds. */
  release(owner: string): void {
    for (const [i, holds] of this.#holds) {
      const rest = holds.filter((h) => h.owner !== owner);
      if (rest.length) this.#holds.set(i, rest);
      else this.#holds.delete(i);
    }
  }
}

/** CUDA_VISIBLE_DEVICES for a set of indices ("" hides every GPU). */
export function cudaVisibleDevices(indices: readonly number[]): string {
  return indices.join(",");
}
