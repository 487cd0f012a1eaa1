import { resolve } from "node:path";
import type { Workspace } from "@mlenv/sdk";
import { colorEnabled, formatJson, type Painter, painter, printableLines, type Style } from "./output";
import { noProgress, type Progress, TerminalProgress } from "./progress";

/** Where the CLI reads and writes: real process streams in `bin.ts`, buffers in tests. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Standard input as text (for `--token-stdin`); absent when there is none. */
  readStdin?: () => Promise<string>;
  /**
   * Resolves when the process is asked to stop (SIGINT/SIGTERM). Long-running commands such as
   * `server start` wait on it; tests pass a promise they resolve themselves.
   */
  untilStopped?: () => Promise<string>;
  /**
   * Whether standard output / standard error are terminals (default: neither). Colour needs a
   * terminal (see `NO_COLOR`, `FORCE_COLOR`); progress lines need standard error to be one.
   */
  isTTY?: { stdout?: boolean; stderr?: boolean };
  /** Width of the terminal in columns (progress lines are cut to it); default 80. */
  columns?: () => number | undefined;
}

/** What every command module receives besides the program. */
export interface CliContext {
  io: CliIo;
  /** Resolve a user-given path against the CLI's working directory. */
  path: (p: string) => string;
  /**
   * Print text to stdout (adds the newline). Each of its lines is printed with control
   * characters made visible (its own line breaks stay line breaks), then styled on a colour
   * terminal.
   */
  out: (text: string, style?: Style) => void;
  /** The same on stderr. */
  err: (text: string, style?: Style) => void;
  /** An informational line on stderr that `--quiet` leaves out. */
  note: (text: string, style?: Style) => void;
  /** Print one JSON document (`--json`). */
  json: (value: unknown) => void;
  /** Print one JSON line (`--json` on a stream, e.g. logs). */
  jsonLine: (value: unknown) => void;
  /** A progress line on a terminal's stderr; shows nothing otherwise or with `--quiet`. */
  progress: (phase: string) => Progress;
  /** Remove a progress line still shown (the command ended). */
  endProgress: () => void;
  /**
   * The workspace of the CLI's config file and environment (`MLENV_URL`, `MLENV_TOKEN`); the SDK
   * loads when a command first asks, not when the program is built.
   */
  workspace: () => Promise<Workspace>;
  /** `--quiet` of the command being run. */
  quiet: boolean;
  /** Style functions for stdout / stderr (identity when colour is off). */
  paint: { stdout: Painter; stderr: Painter };
}

export function createContext(io: CliIo): CliContext {
  const stdoutColor = colorEnabled(io.env, io.isTTY?.stdout === true);
  const stderrColor = colorEnabled(io.env, io.isTTY?.stderr === true);
  const paint = { stdout: painter(stdoutColor), stderr: painter(stderrColor) };
  let active: TerminalProgress | undefined;
  const print = (write: (t: string) => void, p: Painter, text: string, style?: Style) => {
    active?.clear();
    write(
      `${printableLines(text)
        .map((l) => p(l, style))
        .join("\n")}\n`,
    );
    active?.draw();
  };
  const ctx: CliContext = {
    io,
    path: (p) => resolve(io.cwd, p),
    out: (text, style) => print(io.stdout, paint.stdout, text, style),
    err: (text, style) => print(io.stderr, paint.stderr, text, style),
    note: (text, style) => {
      if (!ctx.quiet) ctx.err(text, style);
    },
    json: (value) => {
      active?.clear();
      io.stdout(`${formatJson(value)}\n`);
      active?.draw();
    },
    jsonLine: (value) => {
      active?.clear();
      io.stdout(`${JSON.stringify(value)}\n`);
      active?.draw();
    },
    workspace: async () => (await import("@mlenv/sdk/node")).workspaceFromConfig({ env: io.env }),
    progress: (phase) => {
      if (ctx.quiet || io.isTTY?.stderr !== true || io.env.TERM === "dumb") return noProgress;
      active?.done();
      const p = new TerminalProgress({
        write: io.stderr,
        columns: () => io.columns?.() || 80,
        paint: paint.stderr,
        phase,
        onDone: () => {
          if (active === p) active = undefined;
        },
      });
      active = p;
      return p;
    },
    endProgress: () => active?.done(),
    quiet: false,
    paint,
  };
  return ctx;
}

/** An error the CLI reports on stderr (`error: <message> [code]`) with a non-zero exit code. */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options.exitCode ?? 1;
  }
}
