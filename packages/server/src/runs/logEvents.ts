import { logsAppended } from "./logWriter";
import type { LogLine, RunStore } from "./runStore";

const encoder = new TextEncoder();

/** Where a followed owner (a run, a service) stands: gone, still writing, or final with its view. */
export type OwnerState = { final: false } | { final: true; view: unknown };

export interface LogEventsOptions {
  store: Pick<RunStore, "logs">;
  ownerId: string;
  /** The owner's state, read before each page of lines (a final state means every line is stored). */
  state: () => Promise<OwnerState>;
  /** The last line the client has (Last-Event-ID / ?after=). */
  afterSeq?: number;
  signal?: AbortSignal;
  /** Longest wait between looks at the database (default 250 ms; a line stored here wakes at once). */
  pollMs?: number;
}

/** Wait for a stored batch of `ownerId`'s lines, `ms`, or the abort, whichever comes first. */
function nextChange(ownerId: string, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      logsAppended.off(ownerId, done);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    logsAppended.once(ownerId, done);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * An owner's log as server-sent events, the way builds stream theirs: `event: log` (id = the
 * line's seq, data `{seq, stream, text}`) for every stored and live line after `afterSeq`, then
 * one `event: end` whose data is the final owner. A comment every 15 s keeps idle connections
 * open; a failure is one `event: error` `{code, message}`.
 */
export function logEventStream(options: LogEventsOptions): ReadableStream<Uint8Array> {
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const pollMs = options.pollMs ?? 250;
  let ping: NodeJS.Timeout | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      ping = setInterval(() => send(": keep-alive\n\n"), 15_000);
      ping.unref();
      void (async () => {
        let seq = options.afterSeq ?? 0;
        const drain = async () => {
          for (;;) {
            const lines: LogLine[] = await options.store.logs(options.ownerId, seq);
            for (const line of lines) {
              seq = line.seq;
              send(`id: ${line.seq}\nevent: log\ndata: ${JSON.stringify(line)}\n\n`);
            }
            if (lines.length === 0 || stop.signal.aborted) return;
          }
        };
        try {
          while (!stop.signal.aborted) {
            // the state first: once it is final, every line is stored and one more read gets them all
            const state = await options.state();
            await drain();
            if (state.final) {
              send(`event: end\ndata: ${JSON.stringify(state.view)}\n\n`);
              return;
            }
            await nextChange(options.ownerId, pollMs, stop.signal);
          }
        } catch (e) {
          const err = e as { code?: unknown; message?: unknown };
          send(
            `event: error\ndata: ${JSON.stringify({ code: typeof err.code === "string" ? err.code : "E_INTERNAL", message: String(err.message ?? e).slice(0, 500) })}\n\n`,
          );
        } finally {
          clearInterval(ping);
          try {
            controller.close();
          } catch {
            // the client went away
          }
        }
      })();
    },
    cancel() {
      clearInterval(ping);
      stop.abort();
    },
  });
}

/** Whether a log request asks for events: `Accept: text/event-stream` or `?follow=1|true`. */
export function wantsEvents(accept: string | undefined, follow: string | undefined): boolean {
  return follow === "1" || follow === "true" || /\btext\/event-stream\b/i.test(accept ?? "");
}

/** The `Last-Event-ID` header, else `?after=`: the last line the client has. */
export function resumeFrom(lastEventId: string | undefined, after: number): number {
  return lastEventId !== undefined && /^[0-9]{1,15}$/.test(lastEventId.trim()) ? Number(lastEventId) : after;
}

/** An HTTP response streaming {@link logEventStream}. */
export function logEventResponse(options: LogEventsOptions): Response {
  return new Response(logEventStream(options), {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
