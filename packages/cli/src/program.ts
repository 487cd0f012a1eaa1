import { Command, CommanderError } from "commander";
import * as buildCommands from "./commands/build";
import * as completionCommands from "./commands/completion";
import * as computeCommands from "./commands/compute";
import * as envCommands from "./commands/env";
import * as indexCommands from "./commands/indexUrl";
import * as lockCommands from "./commands/lock";
import * as loginCommands from "./commands/login";
import * as runCommands from "./commands/run";
import * as serverCommands from "./commands/server";
import * as tokenCommands from "./commands/token";
import * as wheelCommands from "./commands/wheel";
import { type CliContext, type CliIo, createContext } from "./context";
import { printableLines } from "./output";

/** A command module: adds its commands to the program. */
export interface CommandModule {
  register: (program: Command, ctx: CliContext) => void;
}

/**
 * The command modules, in help order. To add a command group, write
 * `src/commands/<group>.ts` exporting `register(program, ctx)` and add one entry here.
 */
const commandModules: CommandModule[] = [
  envCommands,
  buildCommands,
  lockCommands,
  serverCommands,
  loginCommands,
  tokenCommands,
  wheelCommands,
  indexCommands,
  runCommands,
  computeCommands,
  completionCommands,
];

export const CLI_VERSION = "0.0.0";

/** The `mlenv` program with every command registered, writing through `io`. */
export function createProgram(io: CliIo): Command {
  return programWithContext(io).program;
}

function programWithContext(io: CliIo): { program: Command; ctx: CliContext } {
  const ctx = createContext(io);
  const program = new Command("mlenv")
    .description("Reproducible machine-learning software environments.")
    .version(CLI_VERSION, "-V, --version")
    .option("-q, --quiet", QUIET)
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const m of commandModules) m.register(program, ctx);
  applyRecursively(program, (c) => {
    c.exitOverride();
    c.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
    // Every command takes --quiet after its name too (`mlenv env lock -d x -q`).
    if (c !== program && c.commands.length === 0 && !c.options.some((o) => o.long === "--quiet")) {
      c.option("-q, --quiet", QUIET);
    }
  });
  program.hook("preAction", (_root, action) => {
    ctx.quiet = action.optsWithGlobals<{ quiet?: boolean }>().quiet === true;
  });
  return { program, ctx };
}

const QUIET = "no progress lines or notes on stderr (errors and warnings still print)";

function applyRecursively(c: Command, f: (c: Command) => void): void {
  f(c);
  for (const sub of c.commands) applyRecursively(sub, f);
}

/** Run the CLI on `argv` (without the node and script entries); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const { program, ctx } = programWithContext(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    ctx.endProgress();
    if (e instanceof CommanderError) return e.exitCode;
    // A CliError with an empty message has already printed its own lines (e.g. validation issues).
    if (!(e instanceof Error && e.message === "" && (e as { exitCode?: unknown }).exitCode !== undefined)) {
      const [first = "", ...rest] = errorLines(e);
      ctx.err(first, "red");
      if (rest.length) ctx.err(rest.join("\n"));
    }
    // MLENV_DEBUG=1 adds the stack (and causes) after the message.
    if (io.env.MLENV_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    const exit = (e as { exitCode?: unknown }).exitCode;
    return typeof exit === "number" && exit > 0 ? exit : 1;
  } finally {
    ctx.endProgress();
  }
}

/**
 * The lines describing an error: `error: <first line of the message> [<code>]`, then the
 * message's further lines as they are (a build's step output, a code frame). Each line has its
 * control characters made visible.
 */
export function errorLines(e: unknown): string[] {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  const [first = "", ...rest] = printableLines(message.trim());
  const head =
    typeof code === "string" && /^E_[A-Z0-9_]+$/.test(code)
      ? `error: ${first.trim()} [${code}]`
      : `error: ${first.trim()}`;
  return [head, ...rest.map((l) => l.trimEnd())];
}

/** The first line of {@link errorLines}. */
export function errorLine(e: unknown): string {
  return errorLines(e)[0] ?? "error:";
}
