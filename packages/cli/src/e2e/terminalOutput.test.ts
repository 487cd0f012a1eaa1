/**
 * What users see, exactly, on a terminal (a real pseudo-terminal) and through a pipe: tables and
 * multi-line messages keep their line breaks, a definition without channels uses the conda
 * configuration's channels and says so, colour only on a terminal (NO_COLOR), --quiet, progress
 * lines only on a terminal, and a closed pipe ends the CLI quietly.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { makeTempDir, repodataJson, serveCondaChannel, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";
import {
  cliCommand,
  runOnTerminal,
  runShell,
  runThroughPipes,
  scriptMissing,
  shellQuote,
} from "./cliProcess";

const base = [
  { name: "python", version: "3.12.1", build: "h0_0" },
  { name: "numpy", version: "1.26.4", build: "py312_0", depends: ["python >=3.12,<3.13"] },
];

const RED = "\x1b[31m";
const GREEN = "\x1b[32m";
const RESET_FG = "\x1b[39m";

describe.skipIf(skipWithout("script (pseudo-terminal)", scriptMissing()))(
  "mlenv output on a terminal and through a pipe",
  () => {
    const t = makeTempDir("mlenv-cli-tty-");
    const home = join(t.path, "home");
    const env = (extra: Record<string, string> = {}) => ({
      HOME: home,
      XDG_CACHE_HOME: join(t.path, "cache"),
      ...extra,
    });
    let channel: Awaited<ReturnType<typeof serveCondaChannel>>;

    beforeAll(async () => {
      mkdirSync(home);
      channel = await serveCondaChannel({ files: { "linux-64/repodata.json": repodataJson(base) } });
      writeFileSync(
        join(t.path, "env.yml"),
        `name: demo\nchannels:\n  - ${channel.url}\ndependencies:\n  - python=3.12\n  - numpy\n`,
      );
      writeFileSync(
        join(t.path, "nochannels.yml"),
        "name: demo\ndependencies:\n  - python=3.12\n  - numpy\n",
      );
    });
    afterAll(async () => {
      await channel?.close();
      t.cleanup();
    });

    it("env outdated prints its table one row per line (no \\u000a), on a terminal and through a pipe", async () => {
      const locked = await runInProcess(["env", "lock", "-d", "env.yml", "--platform", "linux-64"], {
        cwd: t.path,
        env: env(),
      });
      expect(locked.code, locked.stderr).toBe(0);
      channel.setFile(
        "linux-64/repodata.json",
        repodataJson([
          ...base,
          { name: "numpy", version: "2.1.0", build: "py312_0", depends: ["python >=3.12,<3.13"] },
        ]),
      );
      const table =
        "PLATFORM  KIND   PACKAGE  LOCKED  NOW\n" + //
        "linux-64  conda  numpy    1.26.4  2.1.0\n";
      const piped = await runThroughPipes(["env", "outdated", "-d", "env.yml"], { cwd: t.path, env: env() });
      expect(piped).toEqual({ code: 0, stdout: table, stderr: "" });
      const tty = await runOnTerminal(["env", "outdated", "-d", "env.yml"], { cwd: t.path, env: env() });
      expect(tty.code).toBe(0);
      expect(tty.screen).toBe(table);
      expect(tty.raw).not.toContain("\\u000a");
    }, 120_000);

    it("a definition without channels uses the channels of ~/.condarc and says so", async () => {
      writeFileSync(join(home, ".condarc"), `channels:\n  - ${channel.url}\n`);
      const note = `nochannels.yml lists no channels: using ${channel.url} (conda configuration: ${join(home, ".condarc")})\n`;
      const out = `linux-64: 2 conda, 0 pip packages\nWrote ${join(t.path, "mlenv.lock")}\n`;
      const argv = ["env", "lock", "-d", "nochannels.yml", "--platform", "linux-64"];
      const piped = await runThroughPipes(argv, { cwd: t.path, env: env() });
      expect(piped).toEqual({ code: 0, stdout: out, stderr: note });
      const tty = await runOnTerminal(argv, { cwd: t.path, env: env() });
      expect(tty.code).toBe(0);
      expect(tty.screen).toBe(note + out);
      // --quiet leaves the note out
      const quiet = await runThroughPipes([...argv, "--quiet"], { cwd: t.path, env: env() });
      expect(quiet).toEqual({ code: 0, stdout: out, stderr: "" });
    }, 120_000);

    it("`defaults` stands for default_channels of $CONDARC, which wins over ~/.condarc", async () => {
      writeFileSync(join(home, ".condarc"), "channels:\n  - http://127.0.0.1:9/not-used\n");
      const custom = join(t.path, "custom-condarc.yml");
      writeFileSync(custom, `channels: [defaults]\ndefault_channels:\n  - ${channel.url}\n`);
      const argv = ["env", "lock", "-d", "nochannels.yml", "--platform", "linux-64", "--json"];
      const piped = await runThroughPipes(argv, {
        cwd: t.path,
        env: env({ CONDARC: custom, HOME: join(t.path, "elsewhere") }),
      });
      expect(piped.stderr).toBe(
        `nochannels.yml lists no channels: using ${channel.url} (conda configuration: ${custom})\n`,
      );
      expect(piped.code).toBe(0);
      expect(JSON.parse(piped.stdout).channels).toEqual([channel.url]);
    }, 120_000);

    it("no channels anywhere: one error saying so, red on a terminal only (NO_COLOR respected)", async () => {
      writeFileSync(join(home, ".condarc"), "channels: []\n");
      const argv = ["env", "lock", "-d", "nochannels.yml", "--platform", "linux-64"];
      const message = `error: nochannels.yml lists no channels and the conda configuration (${join(home, ".condarc")}) sets none: expected channels such as [conda-forge] in the definition or in ~/.condarc [E_NO_CHANNELS]`;
      const piped = await runThroughPipes(argv, { cwd: t.path, env: env() });
      expect(piped).toEqual({ code: 1, stdout: "", stderr: `${message}\n` });
      const tty = await runOnTerminal(argv, { cwd: t.path, env: env() });
      expect(tty.code).toBe(1);
      expect(tty.screen).toBe(`${RED}${message}${RESET_FG}\n`);
      const plain = await runOnTerminal(argv, { cwd: t.path, env: env({ NO_COLOR: "1" }) });
      expect(plain.screen).toBe(`${message}\n`);
    }, 120_000);

    it("env diff and validation errors are coloured on a terminal, plain through a pipe", async () => {
      writeFileSync(
        join(t.path, "a.yml"),
        "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n",
      );
      writeFileSync(
        join(t.path, "b.yml"),
        "name: demo\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n  - numpy\n",
      );
      const piped = await runThroughPipes(["env", "diff", "a.yml", "b.yml"], { cwd: t.path, env: env() });
      expect(piped.code).toBe(0);
      expect(piped.stdout).not.toContain("\x1b");
      expect(piped.stdout).toMatch(
        /^--- a\.yml \(mlenv1-sha256:[0-9a-f]{64}\)\n\+\+\+ b\.yml \(mlenv1-sha256:[0-9a-f]{64}\)\nconda packages:\n {2}\+ numpy\n$/,
      );
      const tty = await runOnTerminal(["env", "diff", "a.yml", "b.yml"], { cwd: t.path, env: env() });
      expect(tty.screen).toMatch(
        /^\x1b\[31m--- a\.yml \(mlenv1-sha256:[0-9a-f]{64}\)\x1b\[39m\n\x1b\[32m\+\+\+ b\.yml /,
      );
      expect(tty.screen).toContain(`\x1b[1mconda packages:\x1b[22m\n${GREEN}  + numpy${RESET_FG}\n`);

      writeFileSync(join(t.path, "bad.yml"), "name: demo\nchannels: 5\ndependencies:\n  - python=3.12\n");
      const invalid = await runOnTerminal(["env", "validate", "-d", "bad.yml"], { cwd: t.path, env: env() });
      expect(invalid.code).toBe(1);
      expect(invalid.screen).toMatch(/^\x1b\[31mbad\.yml:2: error E_[A-Z_]+: .*\x1b\[39m\n$/);
      const invalidPiped = await runThroughPipes(["env", "validate", "-d", "bad.yml"], {
        cwd: t.path,
        env: env(),
      });
      expect(invalidPiped.stderr).toMatch(/^bad\.yml:2: error E_[A-Z_]+: [^\x1b]*\n$/);
    }, 120_000);

    it("a progress line shows on a terminal while locking waits for a channel, never through a pipe", async () => {
      // A channel that answers after 1.5 s, so the progress line is drawn.
      const body = repodataJson(base);
      const slow: Server = createServer((req, res) => {
        setTimeout(() => {
          if (req.url === "/slow/linux-64/repodata.json")
            res.writeHead(200, { "content-type": "application/json" }).end(body);
          else res.writeHead(404).end("not found");
        }, 1500);
      });
      await new Promise<void>((r) => slow.listen(0, "127.0.0.1", r));
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}/slow`;
      try {
        writeFileSync(
          join(t.path, "slow.yml"),
          `name: slow\nchannels:\n  - ${url}\ndependencies:\n  - python=3.12\n`,
        );
        const argv = ["env", "lock", "-d", "slow.yml", "--platform", "linux-64", "-o", "slow.lock"];
        const tty = await runOnTerminal(argv, { cwd: t.path, env: env() });
        expect(tty.code).toBe(0);
        expect(tty.raw).toMatch(/fetching repodata · 127\.0\.0\.1:\d+\/slow\/(linux-64|noarch) · \d+\.\ds/);
        // the line is gone at the end: the screen shows only the result
        expect(tty.screen).toBe(`linux-64: 1 conda, 0 pip packages\nWrote ${join(t.path, "slow.lock")}\n`);
        const quiet = await runOnTerminal([...argv, "-q"], { cwd: t.path, env: env() });
        expect(quiet.raw).not.toContain("fetching repodata");
        const piped = await runThroughPipes(argv, { cwd: t.path, env: env() });
        expect(piped).toEqual({
          code: 0,
          stdout: `linux-64: 1 conda, 0 pip packages\nWrote ${join(t.path, "slow.lock")}\n`,
          stderr: "",
        });
      } finally {
        await new Promise((r) => slow.close(r));
      }
    }, 120_000);

    it("a reader that goes away ends the CLI quietly: `| head -1`, `| true` (EPIPE)", async () => {
      // A definition whose rendering is far larger than a pipe's buffer (64 KiB).
      const deps = Array.from({ length: 6000 }, (_, i) => `  - package-number-${i}=1.0`).join("\n");
      writeFileSync(
        join(t.path, "big.yml"),
        `name: big\nchannels: [conda-forge]\ndependencies:\n  - python=3.12\n${deps}\n`,
      );
      const mlenv = cliCommand([]).map(shellQuote).join(" ");
      const head = await runShell(
        `${mlenv} env render -d big.yml -f conda | head -1; echo "status \${PIPESTATUS[0]}"`,
        {
          cwd: t.path,
          env: env(),
        },
      );
      expect(head.stderr).toBe("");
      expect(head.stdout).toBe("name: big\nstatus 0\n");
      const trueRun = await runShell(`${mlenv} completion bash | true; echo "status \${PIPESTATUS[0]}"`, {
        cwd: t.path,
        env: env(),
      });
      expect(trueRun.stderr).toBe("");
      expect(trueRun.stdout).toBe("status 0\n");
    }, 120_000);
  },
);
