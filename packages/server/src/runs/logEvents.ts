import type { Context } from "hono";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { eventStream, eventStreamResponse } from "../http/eventStream";
import { logsAppended } from "./logWriter";
import type { LogLine, RunStore } from "./runStore";

/** Where a followed owner (a run, a service) stands: gone, still writing, or final with its view. */
export type OwnerState = { final: false } | { final: true; view: unknown };

/** Longest wait between looks at the database (a line stored by this process wakes it at once). */
const POLL_MS = 250;

export interface LogEventsOptions {
  store: Pick<RunStore, "logs">;
  ownerId: string;
  /** The owner's state, read before each page of lines (a final state means every line is stored). */
  state: () => Promise<OwnerState>;
  /** The last line the client has (Last-Event-ID / ?after=). */
  afterSeq?: number;
  signal?: AbortSignal;
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
function logEventStream(options: LogEventsOptions): ReadableStream<Uint8Array> {
  return eventStream(
    async (send, signal) => {
      let seq = options.afterSeq ?? 0;
      const drain = async () => {
        for (;;) {
          const lines: LogLine[] = await options.store.logs(options.ownerId, seq);
          for (const line of lines) {
            seq = line.seq;
            send("log", line, line.seq);
          }
          if (lines.length === 0 || signal.aborted) return;
        }
      };
      while (!signal.aborted) {
        // the state first: once it is final, every line is stored and one more read gets them all
        const state = await options.state();
        await drain();
        if (state.final) {
          send("end", state.view);
          return;
        }
        await nextChange(options.ownerId, POLL_MS, signal);
      }
    },
    { signal: options.signal, maxErrorChars: 500 },
  );
}

/** Whether a log request asks for events: `Accept: text/event-stream` or `?follow=1|true`. */
function wantsEvents(accept: string | undefined, follow: string | undefined): boolean {
  return follow === "1" || follow === "true" || /\btext\/event-stream\b/i.test(accept ?? "");
}

/** The `Last-Event-ID` header, else `?after=`: the last line the client has. */
function resumeFrom(lastEventId: string | undefined, after: number): number {
  return lastEventId !== undefined && /^[0-9]{1,15}$/.test(lastEventId.trim()) ? Number(lastEventId) : after;
}

/** `?after=` of a log route: a sequence number (0 when absent). */
function logCursor(v: string | undefined): number {
  const n = v === undefined || v === "" ? 0 : Number(v);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected ?after= a log sequence number like 42; received ${preview(v)}`,
    );
  return n;
}

/** An owner's log route: whose lines, its status as read before them, and its state for followers. */
export interface LogsAnswerOptions extends Pick<LogEventsOptions, "store" | "ownerId" | "state"> {
  /** The status answered with a page (read before the lines: a final one means all are written). */
  status: string;
}

/**
 * The answer of a log route (`?after=`, `?follow=`): events when the request asks for them (see
 * {@link wantsEvents}), resuming at `Last-Event-ID`, else the page `{ items, status, next }` of the
 * lines after `?after=`.
 */
export async function logsAnswer(
  c: Context,
  query: { after?: string | undefined; follow?: string | undefined },
  options: LogsAnswerOptions,
): Promise<Response> {
  const from = logCursor(query.after);
  if (wantsEvents(c.req.header("accept"), query.follow)) {
    return eventStreamResponse(
      logEventStream({
        store: options.store,
        ownerId: options.ownerId,
        afterSeq: resumeFrom(c.req.header("last-event-id"), from),
        signal: c.req.raw.signal,
        state: options.state,
      }),
    );
  }
  const items = await options.store.logs(options.ownerId, from);
  return c.json({ items, status: options.status, next: items.at(-1)?.seq ?? from });
}
