const encoder = new TextEncoder();

/** Sends one server-sent event: its `id:` when given, `event:`, and `data:` as JSON. */
export type SendEvent = (event: string, data: unknown, id?: number) => void;

export interface EventStreamOptions {
  /** The request's signal: the stream stops when the client goes away. */
  signal?: AbortSignal | undefined;
  /** Cut a failure's message to this many characters (default: not cut). */
  maxErrorChars?: number;
}

/**
 * Server-sent events that `produce` sends until it returns (it is handed a signal that aborts
 * when the client goes away). A comment every 15 s keeps idle connections open; a failure is
 * one `event: error` `{code, message}`; the stream closes after.
 */
export function eventStream(
  produce: (send: SendEvent, signal: AbortSignal) => Promise<void>,
  options: EventStreamOptions = {},
): ReadableStream<Uint8Array> {
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let ping: NodeJS.Timeout | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const write = (text: string) => controller.enqueue(encoder.encode(text));
      const send: SendEvent = (event, data, id) =>
        write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      ping = setInterval(() => write(": keep-alive\n\n"), 15_000);
      ping.unref();
      void (async () => {
        try {
          await produce(send, stop.signal);
        } catch (e) {
          const err = e as { code?: unknown; message?: unknown };
          send("error", {
            code: typeof err.code === "string" ? err.code : "E_INTERNAL",
            message: String(err.message ?? e).slice(0, options.maxErrorChars),
          });
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

/** An HTTP response streaming server-sent events (not buffered by proxies). */
export function eventStreamResponse(stream: ReadableStream<Uint8Array>): Response {
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
