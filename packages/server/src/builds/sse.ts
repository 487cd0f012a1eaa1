import { eventStream, eventStreamResponse } from "../http/eventStream";
import type { BuildQueue } from "./buildQueue";
import { BuildErrorCode } from "./errors";
import { jobView } from "./jobStore";

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
  return eventStream(
    async (send, signal) => {
      for await (const event of queue.follow(id, {
        ...(options.lastEventId !== undefined ? { afterSeq: options.lastEventId } : {}),
        signal,
      })) {
        if (event.type === "log") {
          send("log", event.line, event.line.seq);
        } else {
          send("end", jobView(event.job));
        }
      }
    },
    { signal: options.signal },
  );
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
  return eventStreamResponse(stream);
}
