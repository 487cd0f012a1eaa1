import type { Command } from "commander";
import type { CliContext } from "../context";
import { type Column, formatTable } from "../output";

/**
 * What a list command fetches: the rows themselves, or a document that holds them in `items`.
 * `--json` prints it as it is.
 */
export type Listing<T> = readonly T[] | { readonly items: readonly T[] };

/** A list command: what it fetches and how its rows look as a table. */
export interface ListCommandSpec<T, O> {
  /** The sub-command's name (default `list`). */
  name?: string;
  description: string;
  /** The command's own options, declared before `--json`. */
  options?: (command: Command) => Command;
  /** The rows for the parsed options; `--json` prints the answer unchanged. */
  fetch: (opts: O) => Promise<Listing<T>>;
  columns: readonly Column<T>[];
  /** Printed instead of a table with no rows (default: the table's header alone). */
  empty?: string;
}

/**
 * Add a list command to `parent`: its options and `--json`, then an action that fetches the rows
 * and prints them as JSON or as a table.
 */
export function listCommand<T, O extends object = Record<string, never>>(
  parent: Command,
  ctx: CliContext,
  spec: ListCommandSpec<T, O>,
): Command {
  const command = parent.command(spec.name ?? "list").description(spec.description);
  return (spec.options?.(command) ?? command)
    .option("--json", "print JSON")
    .action(async (opts: O & { json?: boolean }) => {
      const listing = await spec.fetch(opts);
      if (opts.json) return ctx.json(listing);
      const rows = "items" in listing ? listing.items : listing;
      if (rows.length === 0 && spec.empty !== undefined) return ctx.out(spec.empty);
      ctx.out(formatTable(rows, spec.columns));
    });
}
