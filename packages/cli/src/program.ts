import { Command, CommanderError } from "commander";
import * as buildCommands from "./commands/build";
import * as completionCommands from "./commands/completion";
import * as envCommands from "./commands/env";
import * as indexCommands from "./commands/indexUrl";
import * as lockCommands from "./commands/lock";
import * as loginCommands from "./commands/login";
import * as runCommands from "./commands/run";
import * as serverCommands from "./commands/server";
import * as tokenCommands from "./commands/token";
import * as wheelCommands from "./commands/wheel";
import { type CliContext, type CliIo, createContext } from "./context";
import { sanitize } from "./output";

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
  completionCommands,
];

export const CLI_VERSION = "0.0.0";

/** The `mlenv` program with every command registered, writing through `io`. */
export function createProgram(io: CliIo): Command {
  const ctx = createContext(io);
  const program = new Command("mlenv")
    .description("Reproducible machine-learning software environments.")
    .version(CLI_VERSION, "-V, --version")
    .enablePositionalOptions()
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  for (const m of commandModules) m.register(program, ctx);
  applyRecursively(program, (c) => {
    c.exitOverride();
    c.configureOutput({ writeOut: io.stdout, writeErr: io.stderr });
  });
  return program;
}

function applyRecursively(c: Command, f: (c: Command) => void): void {
  f(c);
  for (const sub of c.commands) applyRecursively(sub, f);
}

/** Run the CLI on `argv` (without the node and script entries); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    // A CliError with an empty message has already printed its own lines (e.g. validation issues).
    if (!(e instanceof Error && e.message === "" && (e as { exitCode?: unknown }).exitCode !== undefined)) {
      io.stderr(`${errorLine(e)}\n`);
    }
    // MLENV_DEBUG=1 adds the stack (and causes) after the one-line message.
    if (io.env.MLENV_DEBUG && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
    const exit = (e as { exitCode?: unknown }).exitCode;
    return typeof exit === "number" && exit > 0 ? exit : 1;
  }
}

/** One line describing an error: `error: <message> [<code>]`. */
export function errorLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  const code = (e as { code?: unknown } | null)?.code;
  const oneLine = sanitize(message.replace(/\s*\n\s*/g, " ").trim());
  return typeof code === "string" && /^E_[A-Z0-9_]+$/.test(code)
    ? `error: ${oneLine} [${code}]`
    : `error: ${oneLine}`;
}
