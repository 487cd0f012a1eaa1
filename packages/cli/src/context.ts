import { resolve } from "node:path";

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
}

/** What every command module receives besides the program. */
export interface CliContext {
  io: CliIo;
  /** Resolve a user-given path against the CLI's working directory. */
  path: (p: string) => string;
  /** Print one line (adds the newline) to stdout. */
  out: (line: string) => void;
  /** Print one line (adds the newline) to stderr. */
  err: (line: string) => void;
}

export function createContext(io: CliIo): CliContext {
  return {
    io,
    path: (p) => resolve(io.cwd, p),
    out: (line) => io.stdout(`${line}\n`),
    err: (line) => io.stderr(`${line}\n`),
  };
}

/** An error the CLI reports as one line on stderr and a non-zero exit code. */
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
