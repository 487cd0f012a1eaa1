import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import type { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { runInProcess } from "./internal/runInProcess";
import { createProgram } from "./program";

/** Every leaf command (one that runs an action) with its full name. */
function leaves(c: Command, path: string[] = []): { name: string; command: Command }[] {
  if (c.commands.length === 0) return [{ name: path.join(" "), command: c }];
  return c.commands.flatMap((s) => leaves(s, [...path, s.name()]));
}

describe("the command tree", () => {
  const program = createProgram({ stdout: () => {}, stderr: () => {}, env: {}, cwd: "/" });
  const all = leaves(program);

  it("has the commands it is known for", () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all.map((l) => l.name)).toEqual(expect.arrayContaining(["env lock", "run logs", "wheel yank"]));
  });

  it("gives every command --json (scripts get one JSON document, or JSON lines for streams)", () => {
    const missing = all.filter((l) => !l.command.options.some((o) => o.long === "--json")).map((l) => l.name);
    expect(missing).toEqual([]);
  });

  it("gives every command -q/--quiet", () => {
    const missing = all
      .filter((l) => !l.command.options.some((o) => o.long === "--quiet" && o.short === "-q"))
      .map((l) => l.name);
    expect(missing).toEqual([]);
  });
});

describe("--json output of commands that need no server", () => {
  const t = makeTempDir("mlenv-cli-json-");
  const folder = join(t.path, "scaffolded");
  afterAll(() => t.cleanup());
  it.each([
    [
      ["token", "generate", "--json"],
      (v: { token: string }) => expect(v.token).toMatch(/^mlenv_[A-Za-z0-9_-]{43}$/),
    ],
    [
      ["completion", "bash", "--json"],
      (v: { shell: string; script: string }) => {
        expect(v.shell).toBe("bash");
        expect(v.script).toContain("complete -o default -F _mlenv_complete mlenv");
      },
    ],
    [
      ["env", "scaffold", "-n", "demo", "-d", folder, "--overwrite", "--json"],
      (v: { name: string; files: string[] }) =>
        expect(v).toMatchObject({ name: "demo", files: expect.any(Array) }),
    ],
  ] as const)("%j prints one JSON document", async (argv, check) => {
    const r = await runInProcess(argv, { cwd: t.path });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    (check as (v: unknown) => void)(JSON.parse(r.stdout));
  });

  it("env render --json carries the rendered file as text", async () => {
    const r = await runInProcess(["env", "render", "-d", folder, "-f", "conda", "--json"], { cwd: t.path });
    expect(r.code, r.stderr).toBe(0);
    const v = JSON.parse(r.stdout) as { format: string; text: string };
    expect(v.format).toBe("conda");
    expect(v.text).toMatch(/^name: \S+\n(.*\n)*dependencies:\n/);
  });
});
