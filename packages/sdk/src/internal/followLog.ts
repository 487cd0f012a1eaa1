import { MlenvError, SdkErrorCodes } from "../errors";
import type { FollowOptions, LogEvent, LogWaitOptions } from "../logStream";
import type { Workspace } from "../workspace";
import { followEventStream } from "./eventStream";

/**
 * Follow the log stream of a run, service or build (`GET <path>` as server-sent events): its
 * `log` events as lines, then its `end` event's final state under the key `end`.
 */
export async function* followLog<Line, Key extends string, Final>(
  workspace: Workspace,
  path: string,
  options: FollowOptions & { what: string; end: Key },
): AsyncGenerator<LogEvent<Line, Key, Final>> {
  const { end, ...stream } = options;
  for await (const e of followEventStream(workspace, path, stream)) {
    if (e.event === "log") yield { type: "log", line: e.data as Line };
    else if (e.event === "end") yield { type: "end", [end]: e.data as Final } as LogEvent<Line, Key, Final>;
  }
}

function standardOutput(): (line: string) => void {
  const proc = (globalThis as { process?: { stdout?: { write(s: string): unknown } } }).process;
  if (proc?.stdout) return (line) => void proc.stdout?.write(`${line}\n`);
  throw new MlenvError(
    SdkErrorCodes.invalidArgument,
    "Expected an `output` function with showOutput outside Node (e.g. { showOutput: true, output: (l) => lines.push(l) })",
  );
}

/**
 * Read a followed log to its end: `onEvent` sees each event, `show` each line's text when
 * `showOutput` asks for it. Once `timeoutMs` passes it stops and throws `E_TIMEOUT` with
 * `timeoutMessage()` (called then, so it can name the latest state).
 */
export async function waitForLogEnd<E extends { type: "log" | "end" }>(
  follow: (signal: AbortSignal) => AsyncIterable<E>,
  options: LogWaitOptions & {
    onEvent: (event: E) => void;
    show: (event: E & { type: "log" }) => string;
    timeoutMessage: () => string;
  },
): Promise<void> {
  const out = options.showOutput ? (options.output ?? standardOutput()) : null;
  const stop = new AbortController();
  const timer =
    options.timeoutMs === undefined ? undefined : setTimeout(() => stop.abort(), options.timeoutMs);
  const timedOut = () => new MlenvError(SdkErrorCodes.timeout, options.timeoutMessage());
  try {
    for await (const e of follow(stop.signal)) {
      if (e.type === "log") out?.(options.show(e as E & { type: "log" }));
      options.onEvent(e);
    }
  } catch (e) {
    if (stop.signal.aborted) throw timedOut();
    throw e;
  } finally {
    clearTimeout(timer);
  }
  // the stream ends quietly when aborted
  if (stop.signal.aborted) throw timedOut();
}
