import type { DefinitionDiff } from "@mlenv/core";
import type { Command } from "commander";
import { type CliContext, CliError } from "../context";
import type { Style } from "../output";
import { parseVersion } from "./versionNumber";

function collectVersion(v: string, prev: number[] | undefined): number[] {
  return [...(prev ?? []), parseVersion(v)];
}

/** How a diff line looks on a colour terminal: additions green, removals red, changes yellow. */
function diffStyle(line: string): Style | undefined {
  if (/^\s*\+ /.test(line)) return "green";
  if (/^\s*- /.test(line)) return "red";
  if (/^\s*~ /.test(line)) return "yellow";
  if (/^\S.*:$/.test(line)) return "bold";
  return undefined;
}

async function printDiff(ctx: CliContext, header: [string, string], diff: DefinitionDiff): Promise<void> {
  const { formatDiff } = await import("@mlenv/core");
  ctx.out(`--- ${header[0]}`, "red");
  ctx.out(`+++ ${header[1]}`, "green");
  for (const line of formatDiff(diff).trimEnd().split("\n")) ctx.out(line, diffStyle(line));
}

/** `mlenv env diff DIR_A DIR_B` and `mlenv env diff -n NAME -v A -v B`. */
export function registerDiffCommand(env: Command, ctx: CliContext): void {
  env
    .command("diff")
    .description("Compare two definitions: two local folders/files, or -n NAME -v A -v B in the registry.")
    .argument("[a]", "first definition folder or file")
    .argument("[b]", "second definition folder or file")
    .option("-n, --name <name>", "registered environment name")
    .option("-v, --version <n>", "a version to compare (give two)", collectVersion)
    .option("--json", "print the structured diff as JSON")
    .action(
      async (
        a: string | undefined,
        b: string | undefined,
        opts: { name?: string; version?: number[]; json?: boolean },
      ) => {
        if (opts.name !== undefined) {
          if (a !== undefined)
            throw new CliError("E_USAGE", "Expected -n NAME -v A -v B or two paths, not both.");
          const [from, to, extra] = opts.version ?? [];
          if (from === undefined || to === undefined || extra !== undefined) {
            throw new CliError("E_USAGE", "Expected exactly two versions: mlenv env diff -n NAME -v 1 -v 2");
          }
          const d = await (await ctx.workspace()).environments.diff(opts.name, from, to);
          if (opts.json) return ctx.json(d);
          return printDiff(
            ctx,
            [`${d.name} version ${d.from} (${d.fromHash})`, `${d.name} version ${d.to} (${d.toHash})`],
            d.changes as DefinitionDiff,
          );
        }
        if (a === undefined || b === undefined || opts.version !== undefined) {
          throw new CliError(
            "E_USAGE",
            "Expected two definition paths (mlenv env diff DIR_A DIR_B) or -n NAME -v A -v B.",
          );
        }
        const [{ definitionHash, diffDefinitions }, { loadDefinitionPath }] = await Promise.all([
          import("@mlenv/core"),
          import("@mlenv/sdk/node"),
        ]);
        const da = loadDefinitionPath(ctx.path(a), { displayPath: a }).definition;
        const db = loadDefinitionPath(ctx.path(b), { displayPath: b }).definition;
        const diff = diffDefinitions(da, db);
        if (opts.json) return ctx.json(diff);
        return printDiff(ctx, [`${a} (${definitionHash(da)})`, `${b} (${definitionHash(db)})`], diff);
      },
    );
}
