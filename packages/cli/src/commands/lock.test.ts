import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseLock } from "@mlenv/core";
import { makeTempDir, repodataJson, serveCondaChannel } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const t = makeTempDir();
const run = (...argv: string[]) => runInProcess(argv, { cwd: t.path, env: { HOME: t.path } });
const base = [
  { name: "python", version: "3.12.1", build: "h0_0" },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13"] },
];
let channel: Awaited<ReturnType<typeof serveCondaChannel>>;
beforeAll(async () => {
  channel = await serveCondaChannel({ files: { "linux-64/repodata.json": repodataJson(base) } });
  writeFileSync(
    join(t.path, "env.yml"),
    `name: demo\nchannels:\n  - ${channel.url}\ndependencies:\n  - python=3.12\n  - numpy\n`,
  );
});
afterAll(async () => {
  await channel.close();
  t.cleanup();
});

describe("mlenv env lock / outdated", () => {
  it("writes mlenv.lock beside the file, --check passes, then fails after an edit", async () => {
    const r = await run("env", "lock", "-d", "env.yml", "--platform", "linux-64");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^linux-64: 2 conda, 0 pip packages\nWrote .*mlenv\.lock\n$/);
    const lock = parseLock(readFileSync(join(t.path, "mlenv.lock"), "utf8"));
    expect(lock.platforms["linux-64"]?.conda.map((c) => c.name)).toEqual(["numpy", "python"]);
    expect((await run("env", "lock", "-d", "env.yml", "--platform", "linux-64", "--check")).code).toBe(0);
    writeFileSync(
      join(t.path, "env.yml"),
      `name: demo\nchannels:\n  - ${channel.url}\ndependencies:\n  - python=3.12\n  - numpy>=1.20\n`,
    );
    const stale = await run("env", "lock", "-d", "env.yml", "--platform", "linux-64", "--check");
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("lock out of date: the definition changed");
  });

  it("outdated lists drift, and an unsatisfiable lock prints the conflict chain", async () => {
    await run("env", "lock", "-d", "env.yml", "--platform", "linux-64");
    channel.setFile(
      "linux-64/repodata.json",
      repodataJson([
        ...base,
        { name: "numpy", version: "2.1.0", build: "py312_0", depends: ["python >=3.12,<3.13"] },
      ]),
    );
    const r = await run("env", "outdated", "-d", "env.yml");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/linux-64\s+conda\s+numpy\s+1\.26\.4\s+2\.1\.0/);
    writeFileSync(
      join(t.path, "bad.yml"),
      `name: bad\nchannels:\n  - ${channel.url}\ndependencies:\n  - python=3.11\n`,
    );
    const bad = await run("env", "lock", "-d", "bad.yml", "--platform", "linux-64");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("[E_UNSATISFIABLE]");
    expect(bad.stderr).toContain("you asked for python=3.11");
  });
});

describe("mlenv env lock and the __cuda virtual package", () => {
  const torch = [
    ...base,
    { name: "pytorch", version: "2.3.0", build: "cpu_0" },
    // the CUDA build needs a driver of CUDA 12 or newer (and is preferred by its build number)
    { name: "pytorch", version: "2.3.0", build: "cuda120_1", depends: ["__cuda >=12"], build_number: 1 },
  ];
  let cudaChannel: Awaited<ReturnType<typeof serveCondaChannel>>;
  const definition = (docker: Record<string, unknown>) =>
    JSON.stringify({
      name: "torch",
      python: {
        condaDependencies: { channels: [cudaChannel.url], dependencies: ["python=3.12", "pytorch"] },
      },
      docker,
    });
  const lockedBuild = async (file: string, env: Record<string, string> = {}) => {
    const r = await runInProcess(
      ["env", "lock", "-d", file, "--platform", "linux-64", "-o", `${file}.lock`],
      {
        cwd: t.path,
        env: { HOME: t.path, ...env },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const lock = parseLock(readFileSync(join(t.path, `${file}.lock`), "utf8"));
    return {
      build: lock.platforms["linux-64"]?.conda.find((c) => c.name === "pytorch")?.build,
      out: r.stderr,
    };
  };
  beforeAll(async () => {
    cudaChannel = await serveCondaChannel({ files: { "linux-64/repodata.json": repodataJson(torch) } });
    writeFileSync(join(t.path, "gpu.json"), definition({ gpuSupport: true, cudaVersion: "12.4" }));
    writeFileSync(join(t.path, "gpu-old.json"), definition({ gpuSupport: true, cudaVersion: "11.8" }));
    writeFileSync(join(t.path, "cpu.json"), definition({}));
  });
  afterAll(() => cudaChannel.close());

  it("locks a GPU definition for its docker.cudaVersion: the CUDA build when the channel has one that fits", async () => {
    const gpu = await lockedBuild("gpu.json");
    expect(gpu.build).toBe("cuda120_1");
    expect(gpu.out).toContain("__cuda 12.4 (from docker.cudaVersion)");
    expect((await lockedBuild("gpu-old.json")).build).toBe("cpu_0");
  });

  it("locks a CPU definition for this machine's driver: none here, a FAKE nvidia-smi's, CONDA_OVERRIDE_CUDA first", async () => {
    const fake = join(t.path, "fake-bin");
    mkdirSync(fake, { recursive: true });
    copyFileSync(
      join(import.meta.dirname, "../../../../test/fixtures/fake-nvidia-smi"),
      join(fake, "nvidia-smi"),
    );
    chmodSync(join(fake, "nvidia-smi"), 0o755);
    const withFake = { PATH: `${fake}:/usr/bin:/bin` };
    expect((await lockedBuild("cpu.json", { PATH: "/nonexistent" })).build).toBe("cpu_0");
    const detected = await lockedBuild("cpu.json", withFake);
    expect(detected.build).toBe("cuda120_1");
    expect(detected.out).toContain("__cuda 12.4 (from nvidia-smi)");
    expect((await lockedBuild("cpu.json", { ...withFake, FAKE_NVIDIA_CUDA: "11.8" })).build).toBe("cpu_0");
    expect((await lockedBuild("cpu.json", { ...withFake, CONDA_OVERRIDE_CUDA: "" })).build).toBe("cpu_0");
    expect((await lockedBuild("gpu.json", { CONDA_OVERRIDE_CUDA: "11.2" })).build).toBe("cpu_0");
    const bad = await runInProcess(["env", "lock", "-d", "cpu.json", "--platform", "linux-64"], {
      cwd: t.path,
      env: { HOME: t.path, CONDA_OVERRIDE_CUDA: "twelve" },
    });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("Expected CONDA_OVERRIDE_CUDA to be a CUDA version such as 12.4");
  });
});
