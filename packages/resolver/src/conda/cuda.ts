import { execFile } from "node:child_process";
import { ResolverError, ResolverErrorCode } from "../errors";

/** Where a `__cuda` version came from. */
export type CudaSource = "CONDA_OVERRIDE_CUDA" | "nvidia-smi" | "none";

export interface DetectedCuda {
  /** The driver's CUDA version (`12.4`), or null when there is no usable NVIDIA driver. */
  version: string | null;
  source: CudaSource;
  /** Why there is no version (nvidia-smi missing, failed, printed no CUDA version). */
  reason?: string;
}

/**
 * The CUDA version an NVIDIA driver reports in `nvidia-smi`'s header (`CUDA Version: 12.4`) or its
 * `-q` report (`CUDA Version : 12.4`); null when the text holds none.
 */
export function parseCudaVersion(text: string): string | null {
  const m = /CUDA Version\s*:\s*(\d{1,3})\.(\d{1,3})/.exec(text);
  return m ? `${Number(m[1])}.${Number(m[2])}` : null;
}

/** Check a CONDA_OVERRIDE_CUDA value: empty means no `__cuda` (as in conda), else MAJOR.MINOR. */
function overrideVersion(value: string): string | null {
  const v = value.trim();
  if (v === "") return null;
  const m = /^(\d{1,3})(?:\.(\d{1,3}))?(?:\.\d+)?$/.exec(v);
  if (!m) {
    throw new ResolverError(
      ResolverErrorCode.SPEC_INVALID,
      `Expected CONDA_OVERRIDE_CUDA to be a CUDA version such as 12.4 (or empty for none); received ${JSON.stringify(v.slice(0, 50))}`,
    );
  }
  return `${Number(m[1])}.${Number(m[2] ?? 0)}`;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr || err.message)
          .trim()
          .split("\n")[0]
          ?.slice(0, 200);
        reject(new Error(`${command} ${args.join(" ")}: ${detail}`));
      } else resolve(String(stdout));
    });
  });
}

/**
 * The `__cuda` virtual package version of this machine, as conda detects it: CONDA_OVERRIDE_CUDA
 * wins (empty: none); otherwise the driver's CUDA version from `nvidia-smi` (on PATH, or
 * `options.nvidiaSmi`); none when there is no NVIDIA driver.
 */
export async function detectCuda(
  options: { env?: NodeJS.ProcessEnv; nvidiaSmi?: string } = {},
): Promise<DetectedCuda> {
  const env = options.env ?? process.env;
  const override = env.CONDA_OVERRIDE_CUDA;
  if (override !== undefined) return { version: overrideVersion(override), source: "CONDA_OVERRIDE_CUDA" };
  const smi = options.nvidiaSmi ?? "nvidia-smi";
  let text: string;
  try {
    text = await run(smi, [], env);
  } catch (e) {
    return { version: null, source: "none", reason: (e as Error).message };
  }
  let version = parseCudaVersion(text);
  if (!version) version = parseCudaVersion(await run(smi, ["-q"], env).catch(() => ""));
  return version
    ? { version, source: "nvidia-smi" }
    : { version: null, source: "none", reason: `${smi} printed no "CUDA Version"` };
}
