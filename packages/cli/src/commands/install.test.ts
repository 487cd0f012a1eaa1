import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseLock, serializeLock } from "@mlenv/core";
import {
  type CondaChannelServer,
  ccMissing,
  compiledFixture,
  condaArchiveToolsMissing,
  makeTempDir,
  serveFixtureChannel,
  skipWithout,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const t = makeTempDir("mlenv-cli-install-");
const env = { HOME: t.path, PATH: process.env.PATH ?? "/usr/bin:/bin" };
const run = (...argv: string[]) => runInProcess(argv, { cwd: t.path, env });
let channel: CondaChannelServer;

describe.skipIf(skipWithout("conda archive tools, cc", condaArchiveToolsMissing() ?? ccMissing()))(
  "mlenv env install",
  () => {
    beforeAll(async () => {
      ({ channel } = await serveFixtureChannel(join(t.path, "channel"), [
        compiledFixture(t.path),
        // the definition's default python=3.11 (a stand-in: these tests run no Python)
        {
          name: "python",
          version: "3.11.0",
          build: "h0_0",
          files: [{ path: "bin/python3.11", data: "#!/bin/sh\necho stand-in\n" }],
        },
        {
          name: "tool-data",
          version: "2.1",
          build: "0",
          format: "tar.bz2",
          files: [{ path: "share/tool/data.txt", data: "data\n" }],
        },
      ]));
      writeFileSync(
        join(t.path, "env.yml"),
        `name: demo\nchannels:\n  - ${channel.url}\ndependencies:\n  - showprefix\n  - tool-data\n`,
      );
    }, 120_000);
    afterAll(async () => {
      await channel?.close();
      t.cleanup();
    });

    it("locks when there is no lock, installs, and runs the installed binary", async () => {
      const prefix = join(t.path, "envs", "demo");
      const r = await run("env", "install", "-d", "env.yml", "--prefix", prefix, "--platform", "linux-64");
      expect(r.stderr).toMatch(/no mlenv\.lock beside env\.yml: locking for linux-64 now/);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /^Installed linux-64 into .*envs\/demo: 3 linked, 0 removed, 0 unchanged conda packages \(3 fetched, [\d.]+ MiB\), 0 pip packages\n$/,
      );
      expect(spawnSync(join(prefix, "bin", "show-prefix"), { encoding: "utf8" }).stdout).toBe(`${prefix}\n`);
      expect(existsSync(join(t.path, ".cache", "mlenv", "pkgs"))).toBe(true);
      // again from the written lock: nothing to do, JSON out
      await run("env", "lock", "-d", "env.yml", "--platform", "linux-64");
      const again = await run(
        "env",
        "install",
        "-d",
        "env.yml",
        "--prefix",
        prefix,
        "--platform",
        "linux-64",
        "--json",
      );
      expect(again.code).toBe(0);
      const res = JSON.parse(again.stdout);
      expect(res).toMatchObject({ linked: [], unlinked: [], fetched: [], platform: "linux-64" });
      expect(res.unchanged.sort()).toEqual(["python-3.11.0-h0_0", "showprefix-1.0-h0_0", "tool-data-2.1-0"]);
    });

    it("a lock whose hash does not match fails with the code and links nothing", async () => {
      const lockFile = join(t.path, "mlenv.lock");
      const lock = parseLock(readFileSync(lockFile, "utf8"));
      for (const p of lock.platforms["linux-64"]?.conda ?? []) p.sha256 = "e".repeat(64);
      writeFileSync(join(t.path, "bad.lock"), serializeLock(lock));
      const prefix = join(t.path, "envs", "bad");
      const r = await run(
        "env",
        "install",
        "--lock",
        "bad.lock",
        "--prefix",
        prefix,
        "--platform",
        "linux-64",
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/sha256 of .* but the lock expects e{64}/);
      expect(r.stderr).toContain("E_CONDA_HASH_MISMATCH");
      expect(existsSync(prefix)).toBe(false);
    });
  },
);
