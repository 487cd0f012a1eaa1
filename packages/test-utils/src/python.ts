import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";

/** Why real pip/venv tests cannot run here (python3 without venv/ensurepip), or null when they can. */
export function venvMissing(): string | null {
  const py = spawnSync("python3", ["-c", "import venv, ensurepip"], { encoding: "utf8" });
  return py.status === 0
    ? null
    : `python3 with venv/ensurepip is not available (${(py.stderr || String(py.error)).trim().slice(0, 200)})`;
}

/** Why real twine tests cannot run here (Debian: `apt-get install twine`), or null when they can. */
export function twineMissing(): string | null {
  const twine = spawnSync("twine", ["--version"], { encoding: "utf8" });
  return twine.status === 0
    ? null
    : `twine is not installed (apt-get install twine): ${(twine.stderr || String(twine.error)).trim().slice(0, 200)}`;
}

/** A clean environment for pip: no user config, no other index, no cache, no prompts. */
export function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("PIP_") && !k.startsWith("PYTHON")) env[k] = v;
  return {
    ...env,
    PIP_CONFIG_FILE: "/dev/null",
    PIP_NO_INPUT: "1",
    PIP_DISABLE_PIP_VERSION_CHECK: "1",
    PIP_NO_CACHE_DIR: "1",
  };
}

/** What a command run by {@link runWithPipEnv} printed (stdout and stderr interleaved) and its exit code. */
export interface PipRun {
  code: number | null;
  out: string;
}

/**
 * Run a command asynchronously (a server under test may live in this same process) with the clean
 * pip environment plus `options.env`; stdout and stderr are interleaved into `out`.
 */
export function runWithPipEnv(
  cmd: string,
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<PipRun> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: { ...pipEnv(), ...options.env },
      timeout: options.timeoutMs ?? 120_000,
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("error", (e) => resolve({ code: -1, out: `${out}\n${String(e)}` }));
    child.on("close", (code) => resolve({ code, out }));
  });
}

/** A virtual environment of {@link makeVenv}. */
export interface Venv {
  /** `python -m pip ...args` in the venv (clean pip environment plus `env`). */
  pip(args: string[], env?: Record<string, string>): Promise<PipRun>;
  /** `python -c code` in the venv. */
  python(code: string): Promise<PipRun>;
}

/** Make a fresh virtual environment at `dir` (`python3 -m venv`); throws with python's output when that fails. */
export async function makeVenv(dir: string): Promise<Venv> {
  const made = await runWithPipEnv("python3", ["-m", "venv", dir]);
  if (made.code !== 0)
    throw new Error(`python3 -m venv ${dir} failed (${made.code}): ${made.out.slice(0, 2000)}`);
  const python = join(dir, "bin", "python");
  return {
    pip: (args, env = {}) => runWithPipEnv(python, ["-m", "pip", ...args], { env }),
    python: (code) => runWithPipEnv(python, ["-c", code]),
  };
}
