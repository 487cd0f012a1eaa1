import type { BuildQueue } from "./buildQueue";
import { BuildErrorCode } from "./errors";

const encoder = new TextEncoder();

/**
 * A job's log as server-sent events: `event: log` (id = line number, data
 * `{seq, step, text}`) for every stored and live line after `lastEventId`, then one `event: end`
 * whose data is the final job (without its request body). A comment every 15 s keeps idle connections open.
 */
export function buildEventStream(
  queue: BuildQueue,
  id: string,
  options: { lastEventId?: number; signal?: AbortSignal } = {},
): ReadableStream<Uint8Array> {
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort(), { once: true });
  let ping: NodeJS.Timeout | undefined;
  return new ReadableStream<Uint8Array>({
    start(controller) {
      ping = setInterval(() => controller.enqueue(encoder.encode(": keep-alive\n\n")), 15_000);
      ping.unref();
      void (async () => {
        try {
          for await (const event of queue.follow(id, {
            ...(options.lastEventId !== undefined ? { afterSeq: options.lastEventId } : {}),
            signal: stop.signal,
          })) {
            if (event.type === "log") {
              controller.enqueue(
                encoder.encode(`id: ${event.line.seq}\nevent: log\ndata: ${JSON.stringify(event.line)}\n\n`),
              );
            } else {
              // the API view: no submitted request body, no internal workspace id
              const { request: _request, workspaceId: _ws, ...job } = event.job;
              controller.enqueue(encoder.encode(`event: end\ndata: ${JSON.stringify(job)}\n\n`));
            }
          }
        } catch (e) {
          const err = e as { code?: unknown; message?: unknown };
          controller.enqueue(
            encoder.encode(
              `event: error\ndata: ${JSON.stringify({ code: typeof err.code === "string" ? err.code : "E_INTERNAL", message: String(err.message ?? e) })}\n\n`,
            ),
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

/**
 * An HTTP response streaming a job's log (`text/event-stream`), honouring `Last-Event-ID`;
 * 404 with `{code: "E_BUILD_NOT_FOUND"}` for an unknown job. Mount it on a GET route.
 */
export async function buildEventResponse(queue: BuildQueue, id: string, request: Request): Promise<Response> {
  try {
    await queue.get(id);
  } catch (e) {
    if ((e as { code?: unknown }).code === BuildErrorCode.NOT_FOUND) {
      return Response.json(
        { code: BuildErrorCode.NOT_FOUND, message: (e as Error).message, details: {} },
        { status: 404 },
      );
    }
    throw e;
  }
  const header = request.headers.get("last-event-id") ?? new URL(request.url).searchParams.get("after");
  const last = header !== null && /^[0-9]{1,12}$/.test(header) ? Number(header) : undefined;
  const stream = buildEventStream(queue, id, {
    ...(last !== undefined ? { lastEventId: last } : {}),
    signal: request.signal,
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
