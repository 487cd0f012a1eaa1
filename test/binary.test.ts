/**
 * [slow] The single-file `mlenv` (scripts/build-binary.ts: Node SEA + postject) run from a
 * directory with no node_modules anywhere above it and NODE_PATH cleared.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createDefinition, definitionHash } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBinary, NATIVE_UNSUPPORTED } from "../scripts/build-binary";

const dir = makeTempDir("mlenv-binary-");
const bin = join(dir.path, "mlenv");

function mlenv(args: string[], input?: string) {
  const r = spawnSync(bin, args, {
    cwd: dir.path,
    encoding: "utf8",
    timeout: 60_000,
    env: { PATH: "/usr/bin:/bin", HOME: dir.path },
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("[slow] single-file mlenv binary", () => {
  beforeAll(async () => {
    const built = await buildBinary(join(dir.path, "build", "mlenv"));
    copyFileSync(built, bin);
    spawnSync("chmod", ["755", bin]);
  }, 300_000);
  afterAll(() => dir.cleanup());

  it("runs with no node_modules present", () => {
    for (let d = dir.path; d !== "/"; d = join(d, ".."))
      expect(existsSync(join(d, "node_modules"))).toBe(false);
    const v = mlenv(["--version"]);
    expect(v).toMatchObject({ status: 0, stderr: "" });
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("scaffolds and hashes like @mlenv/core", () => {
    expect(mlenv(["env", "scaffold", "-n", "train", "-d", "train"]).status).toBe(0);
    const r = mlenv(["env", "hash", "-d", "train", "--json"]);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { definitionHash: string }).definitionHash).toBe(
      definitionHash(createDefinition("train")),
    );
    const v = mlenv(["env", "validate", "-d", "train"]);
    expect(v.status).toBe(0);
  });

  it("prints completion scripts", () => {
    const r = mlenv(["completion", "bash"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("complete -o default -F _mlenv_complete mlenv");
  });

  it("server start on SQLite fails with a clear message instead of crashing", () => {
    const r = mlenv(["server", "start", "--port", "0", "--data-dir", "data"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(NATIVE_UNSUPPORTED);
    expect(r.stderr).toContain("[E_BINARY_UNSUPPORTED]");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});
