/** Following a run's, service's or build's log as it is written (server-sent events). */

/** Where to start following a log, and a signal that stops it. */
export interface FollowOptions {
  /** Only the lines after this one (`seq`); default from the start. */
  after?: number;
  signal?: AbortSignal;
}

/** An event of a followed log: one line, or the final state of what wrote it under `end`'s key. */
export type LogEvent<Line, Key extends string, Final> =
  | { type: "log"; line: Line }
  | ({ type: "end" } & { [K in Key]: Final });

/** How `waitForCompletion` shows the log while it waits, and how long it waits. */
export interface LogWaitOptions {
  /**
   * Stream the log while waiting. Lines go to `output`, or, when none is given, to the
   * process's standard output in Node (the caller asked to see them; browsers need `output`).
   */
  showOutput?: boolean;
  output?: (line: string) => void;
  /** Give up after this many ms (default: wait for ever). */
  timeoutMs?: number;
}
