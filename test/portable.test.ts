/**
 * [slow] The portable distribution (scripts/build-portable.ts): built once, unpacked into an empty
 * directory and run with a PATH that holds no node (only the few system tools it links below), a
 * server on SQLite, a registration and a local run; then scripts/gpu-check.sh against it with the
 * FAKE nvidia-smi of test/fixtures on PATH (parsing, allocation, the GPU errors: no real GPU).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildPortable, portableVersion } from "../scripts/build-portable";

const root = join(import.meta.dirname, "..");
/** System tools the launcher, the helpers and gpu-check.sh use; node is deliberately not among them. */
const TOOLS = [
  // the local target's confinement of user code on a root server
  "setpriv",
  "prlimit",
  "unshare",
  "useradd",
  "groupadd",
  "id",
  "sh",
  "bash",
  "tar",
  "xz",
  "python3",
  "readlink",
  "dirname",
  "basename",
  "mktemp",
  "ls",
  "head",
  "tail",
  "sed",
  "grep",
  "du",
  "cut",
  "tr",
  "seq",
  "sleep",
  "date",
  "timeout",
  "rm",
  "mkdir",
  "cat",
  "env",
  "sort",
];

function toolsMissing(): string | null {
  const missing = ["python3", "xz", "tar", "timeout"].filter(
    (t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0,
  );
  if (missing.length) return `missing ${missing.join(", ")}`;
  if (process.platform !== "linux" || process.arch !== "x64")
    return `not linux-x64 (${process.platform}-${process.arch})`;
  return null;
}

describe.skipIf(skipWithout("portable tarball tools", toolsMissing()))(
  "[slow] portable distribution (no node on PATH)",
  () => {
    const dir = makeTempDir("mlenv-portable-");
    const bin = join(dir.path, "bin");
    const fakeBin = join(dir.path, "fake-gpu-bin");
    const unpacked = join(dir.path, "unpacked");
    let tarball = "";
    let server: ChildProcess | null = null;
    let url = "";
    let mlenv = "";
    const env = () => ({
      PATH: bin,
      HOME: dir.path,
      MLENV_CONFIG: join(dir.path, "none.json"),
      MLENV_URL: url,
      MLENV_TOKEN: token,
    });
    let token = "";
    const cli = (args: string[], cwd = dir.path) => {
      const r = spawnSync(mlenv, args, { cwd, env: env(), encoding: "utf8", timeout: 120_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };

    beforeAll(async () => {
      mkdirSync(bin);
      // a root server runs user code as another account: it must reach the tools and the fake nvidia-smi
      chmodSync(dir.path, 0o755);
      for (const t of TOOLS) {
        const p = spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim();
        if (p) symlinkSync(p, join(bin, t));
      }
      mkdirSync(fakeBin);
      symlinkSync(join(root, "test", "fixtures", "fake-nvidia-smi"), join(fakeBin, "nvidia-smi"));
      tarball = (await buildPortable(join(dir.path, "dist"))).tarball;
      mkdirSync(unpacked);
      const x = spawnSync("tar", ["-xJf", tarball, "-C", unpacked], { encoding: "utf8", env: { PATH: bin } });
      expect(x.status, x.stderr).toBe(0);
      mlenv = join(unpacked, `mlenv-${portableVersion()}-linux-x64`, "mlenv");
    }, 1_200_000);

    afterAll(async () => {
      if (server && server.exitCode === null) {
        server.kill("SIGTERM");
        await new Promise((r) => server?.once("exit", r));
      }
      dir.cleanup();
    });

    it("is one mlenv-<version>-linux-x64.tar.xz of at most 60 MB with node, the bundle and the addon", () => {
      expect(tarball.endsWith(`mlenv-${portableVersion()}-linux-x64.tar.xz`)).toBe(true);
      expect(statSync(tarball).size).toBeLessThanOrEqual(60 * 1000 * 1000);
      const top = join(unpacked, `mlenv-${portableVersion()}-linux-x64`);
      expect(readdirSync(top).sort()).toEqual(["LICENSE", "lib", "mlenv", "python"]);
      expect(statSync(join(top, "lib", "cli", "module.wasm")).isFile()).toBe(true);
      expect(
        statSync(
          join(top, "lib", "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node"),
        ).isFile(),
      ).toBe(true);
      expect(spawnSync("sh", ["-c", "command -v node"], { env: { PATH: bin } }).status).not.toBe(0);
    });

    it("starts a server on SQLite, registers an environment and completes a local run", async () => {
      token = cli(["token", "generate"]).stdout.trim();
      expect(token).toMatch(/^mlenv_/);
      server = spawn(mlenv, ["server", "start", "--port", "0", "--data-dir", join(dir.path, "data")], {
        cwd: dir.path,
        env: { ...env(), MLENV_BOOTSTRAP_TOKEN: token },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let err = "";
      server.stderr?.on("data", (d) => {
        err += String(d);
      });
      url = await new Promise<string>((resolve, reject) => {
        let out = "";
        server?.stdout?.on("data", (d) => {
          out += String(d);
          const m = /listening on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        server?.once("exit", (code) => reject(new Error(`server exited ${code}: ${err.slice(-500)}`)));
      });
      mkdirSync(join(dir.path, "env"));
      writeFileSync(
        join(dir.path, "env", "azureml_environment.json"),
        JSON.stringify({
          name: "portable",
          python: { userManagedDependencies: true, interpreterPath: "python3" },
        }),
      );
      const reg = cli(["env", "register", "-d", "env"]);
      expect(reg.status, reg.stderr).toBe(0);
      expect(reg.stdout).toMatch(/^Registered portable version 1 /);
      mkdirSync(join(dir.path, "src"));
      writeFileSync(
        join(dir.path, "src", "train.py"),
        "import os, mlenv_run\nmlenv_run.log('loss', 0.5)\nos.makedirs('outputs', exist_ok=True)\nopen('outputs/m.txt', 'w').write('ok')\nprint('hello from the portable server')\n",
      );
      const submitTrain = (...more: string[]) =>
        cli(["run", "submit", "--source-dir", "src", "--script", "train.py", "--env", "portable", ...more]);
      const run = submitTrain("--wait");
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toContain("hello from the portable server");
      const id = /Submitted run (\S+)/.exec(run.stderr)?.[1];
      const shown = cli(["run", "show", id!]);
      expect(shown.stdout).toContain("status: completed (exit code 0)");
      expect(shown.stdout).toContain("output: outputs/m.txt");
      // no nvidia-smi on this PATH: asking for a GPU fails at submit, not a run on the CPU
      const gpu = submitTrain("--gpus", "1");
      expect(gpu.status).toBe(1);
      expect(gpu.stderr).toContain("[E_GPU_UNAVAILABLE]");
      expect(gpu.stderr).toContain("has no GPU (nvidia-smi is not on PATH");
      expect(cli(["run", "list"]).stdout.match(/src #/g)).toHaveLength(1);
    }, 180_000);

    it("passes scripts/gpu-check.sh with the FAKE nvidia-smi, every line labelled as fake", () => {
      const r = spawnSync("bash", [join(root, "scripts", "gpu-check.sh"), tarball], {
        cwd: dir.path,
        env: { PATH: `${fakeBin}:${bin}`, HOME: dir.path, MLENV_GPU_CHECK_PYTHON: "python3" },
        encoding: "utf8",
        timeout: 300_000,
      });
      const lines = r.stdout.trim().split("\n");
      expect(r.status, r.stdout + r.stderr).toBe(0);
      const names = lines.map((l) => l.split(" ")[1]);
      expect(names).toEqual([
        "unpack",
        "server",
        "cuda-detected",
        "env-register",
        "train",
        "model-register",
        "service",
        "gpu-exclusive",
        "too-many-gpus",
        "server-stop",
        "duration",
      ]);
      for (const l of lines) expect(l).toMatch(/^GPU-CHECK \S+ PASS .* \[fake nvidia-smi\]$/);
      expect(r.stdout).toContain("__cuda=12.4 (nvidia-smi); GPU 0: FAKE GPU");
      expect(r.stdout).toContain("node on PATH: none");
      expect(r.stdout).toMatch(/system\/gpu0\/utilization=37/);
      expect(r.stdout).toContain("second waited for the GPU");
    }, 320_000);

    it("gpu-check.sh fails (non-zero, FAIL lines) when the machine has no GPU", () => {
      const r = spawnSync("bash", [join(root, "scripts", "gpu-check.sh"), tarball], {
        cwd: dir.path,
        env: { PATH: bin, HOME: dir.path },
        encoding: "utf8",
        timeout: 300_000,
      });
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(
        /^GPU-CHECK cuda-detected FAIL __cuda=none, 0 GPU\(s\): nvidia-smi is not on PATH/m,
      );
      expect(r.stdout).toMatch(/^GPU-CHECK train FAIL .*E_GPU_UNAVAILABLE/m);
    }, 320_000);
  },
);
