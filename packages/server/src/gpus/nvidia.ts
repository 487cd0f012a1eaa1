import { execFile } from "node:child_process";
import { type DetectedCuda, detectCuda } from "@mlenv/resolver";

/** One GPU of this machine as `nvidia-smi -L` lists it. */
export interface GpuDevice {
  /** The index CUDA_VISIBLE_DEVICES and `nvidia-smi -i` use. */
  index: number;
  name: string;
  uuid: string | null;
}

/** This machine's GPUs and driver, as the server sees them. */
export interface GpuInventory {
  devices: GpuDevice[];
  /** The `__cuda` virtual package version (the driver's CUDA version), or null. */
  cuda: string | null;
  cudaSource: DetectedCuda["source"];
  /** Why there are no GPUs (nvidia-smi missing or failing), when there are none. */
  reason: string | null;
}

/**
 * Parse `nvidia-smi -L`: `GPU 0: NVIDIA H200 (UUID: GPU-…)` lines (MIG lines, indented, are
 * skipped: a MIG device is addressed through its parent here).
 */
export function parseGpuList(text: string): GpuDevice[] {
  const out: GpuDevice[] = [];
  for (const line of text.split("\n")) {
    const m = /^GPU (\d{1,4}): (.*?)(?: \(UUID: ([A-Za-z0-9-]{1,100})\))?\s*$/.exec(line);
    if (m) out.push({ index: Number(m[1]), name: m[2]!.slice(0, 200), uuid: m[3] ?? null });
  }
  return out;
}

/** Run nvidia-smi with arguments (no shell); rejects with its first stderr line. */
export function nvidiaSmi(
  args: string[],
  options: { command?: string; timeoutMs?: number } = {},
): Promise<string> {
  const command = options.command ?? "nvidia-smi";
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: options.timeoutMs ?? 15_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const why =
            code === "ENOENT"
              ? `${command} is not on PATH (no NVIDIA driver on this machine)`
              : `${command} ${args.join(" ")} failed: ${String(stderr || err.message)
                  .trim()
                  .split("\n")[0]
                  ?.slice(0, 200)}`;
          reject(new Error(why));
        } else resolve(String(stdout));
      },
    );
  });
}

/** List this machine's GPUs (`nvidia-smi -L`) and detect `__cuda` (CONDA_OVERRIDE_CUDA wins). */
export async function queryGpus(
  options: { command?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<GpuInventory> {
  const command = options.command ?? "nvidia-smi";
  let devices: GpuDevice[] = [];
  let reason: string | null = null;
  try {
    devices = parseGpuList(await nvidiaSmi(["-L"], { command }));
    if (devices.length === 0) reason = `${command} -L listed no GPU`;
  } catch (e) {
    reason = (e as Error).message;
  }
  const cuda = await detectCuda({ nvidiaSmi: command, ...(options.env ? { env: options.env } : {}) }).catch(
    (e: Error) => ({ version: null, source: "none" as const, reason: e.message }),
  );
  return { devices, cuda: cuda.version, cudaSource: cuda.source, reason };
}

/** What the run helper reads per GPU, for the metrics it records. */
export const GPU_METRIC_QUERY = "index,utilization.gpu,memory.used,memory.total";
