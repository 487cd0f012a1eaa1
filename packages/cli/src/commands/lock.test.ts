import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseLock } from "@mlenv/core";
import { makeTempDir, serveCondaChannel } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const t = makeTempDir();
const run = (...argv: string[]) => runInProcess(argv, { cwd: t.path, env: { HOME: t.path } });
const repodata = (recs: { name: string; version: string; build: string; depends?: string[] }[]) =>
  JSON.stringify({
    info: { subdir: "linux-64" },
    packages: Object.fromEntries(
      recs.map((r) => [
        `${r.name}-${r.version}-${r.build}.tar.bz2`,
        { build_number: 0, depends: [], md5: "c".repeat(32), ...r },
      ]),
    ),
  });
const base = [
  { name: "python", version: "3.12.1", build: "h0_0" },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13"] },
];
let channel: Awaited<ReturnType<typeof serveCondaChannel>>;
beforeAll(async () => {
  channel = await serveCondaChannel({ files: { "linux-64/repodata.json": repodata(base) } });
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
      repodata([
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
