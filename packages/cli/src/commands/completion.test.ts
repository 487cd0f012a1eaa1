import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { createProgram, runCli } from "../program";
import { commandTree } from "./completion";

const dir = makeTempDir("mlenv-completion-");
afterAll(() => dir.cleanup());

async function cli(args: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: {},
    cwd: dir.path,
  });
  return { code, stdout, stderr };
}

/** What real bash completes for `line` (the cursor at its end) with the generated script. */
function bashComplete(script: string, line: string): string[] {
  const file = join(dir.path, "mlenv.bash");
  writeFileSync(file, script);
  const words = line.split(" ");
  const prog = `source ${JSON.stringify(file)}
COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(" ")})
COMP_CWORD=${words.length - 1}
_mlenv_complete
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "--noprofile", "-c", prog], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  return r.stdout.split("\n").filter(Boolean);
}

describe("mlenv completion", () => {
  it("bash: completes command groups, subcommands and their flags in real bash", async () => {
    const r = await cli(["completion", "bash"]);
    expect(r.code).toBe(0);
    expect(bashComplete(r.stdout, "mlenv e")).toEqual(["env"]);
    expect(bashComplete(r.stdout, "mlenv env reg")).toEqual(["register"]);
    expect(bashComplete(r.stdout, "mlenv env scaffold --")).toEqual(
      expect.arrayContaining(["--name", "--directory", "--help"]),
    );
    // Flags and their values between words do not confuse the command path.
    expect(bashComplete(r.stdout, "mlenv env show -n train --")).toEqual(expect.arrayContaining(["--json"]));
    expect(bashComplete(r.stdout, "mlenv wheel ")).toEqual(expect.arrayContaining(["upload", "yank"]));
  });

  it("zsh and fish scripts name every command group", async () => {
    const groups = commandTree(createProgram({ stdout: () => {}, stderr: () => {}, env: {}, cwd: "." }))
      .filter((n) => n.path.length === 1)
      .map((n) => n.path[0]);
    expect(groups).toEqual(expect.arrayContaining(["env", "server", "wheel", "completion"]));
    const zsh = await cli(["completion", "zsh"]);
    expect(zsh.stdout.startsWith("#compdef mlenv")).toBe(true);
    expect(zsh.stdout).toContain("bashcompinit");
    const fish = await cli(["completion", "fish"]);
    expect(fish.code).toBe(0);
    const top = fish.stdout.split("\n").find((l) => l.includes("__fish_use_subcommand' -a"));
    for (const g of groups) expect(top).toContain(g);
    expect(fish.stdout).toContain(
      "complete -c mlenv -n '__fish_seen_subcommand_from env; and __fish_seen_subcommand_from scaffold' -l name",
    );
  });

  it("refuses an unknown shell with a one-line error", async () => {
    const r = await cli(["completion", "powershell"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^error: Expected a shell: bash, zsh or fish .*received "powershell" \[E_USAGE\]\n$/,
    );
  });
});
