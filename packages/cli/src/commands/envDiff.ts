import { type DefinitionDiff, definitionHash, diffDefinitions, formatDiff } from "@mlenv/core";
import { loadDefinitionPath, workspaceFromConfig } from "@mlenv/sdk/node";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";
import { formatJson, sanitize } from "../output";

function collectVersion(v: string, prev: number[] | undefined): number[] {
  if (!/^[1-9]\d{0,8}$/.test(v))
    throw new InvalidArgumentError(`expected a version number such as 1 or 2; received ${v}`);
  return [...(prev ?? []), Number(v)];
}

function printDiff(ctx: CliContext, header: [string, string], diff: DefinitionDiff): void {
  ctx.out(sanitize(`--- ${header[0]}`));
  ctx.out(sanitize(`+++ ${header[1]}`));
  for (const line of formatDiff(diff).trimEnd().split("\n")) ctx.out(sanitize(line));
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
          const d = await workspaceFromConfig({ env: ctx.io.env }).environments.diff(opts.name, from, to);
          if (opts.json) return ctx.out(formatJson(d));
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
        const da = loadDefinitionPath(ctx.path(a), { displayPath: a }).definition;
        const db = loadDefinitionPath(ctx.path(b), { displayPath: b }).definition;
        const diff = diffDefinitions(da, db);
        if (opts.json) return ctx.out(formatJson(diff));
        printDiff(ctx, [`${a} (${definitionHash(da)})`, `${b} (${definitionHash(db)})`], diff);
      },
    );
}
