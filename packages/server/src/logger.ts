/** Structured log fields; values must be JSON-serialisable. Never put secrets here. */
export type LogFields = Record<string, unknown>;

/** The server's injectable logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LEVELS;

/** JSON lines (`{"time","level","msg",...fields}`) written to a stream, stderr by default. */
export function jsonLogger(options: { level?: LogLevel; write?: (line: string) => void } = {}): Logger {
  const min = LEVELS[options.level ?? "info"];
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const log =
    (level: LogLevel) =>
    (msg: string, fields: LogFields = {}): void => {
      if (LEVELS[level] < min) return;
      write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
    };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}

/** A logger that drops everything (tests, benches). */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
