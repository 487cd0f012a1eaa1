import { spawn, spawnSync } from "node:child_process";

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

/**
 * Run a command asynchronously (a server under test may live in this same process) with the clean
 * pip environment; stdout and stderr are interleaved into `out`.
 */
export function runWithPipEnv(cmd: string, args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: pipEnv(), timeout: 120_000 });
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
