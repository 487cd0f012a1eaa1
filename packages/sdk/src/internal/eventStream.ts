import { createParser, type EventSourceMessage } from "eventsource-parser";
import { MlenvError, preview, SdkErrorCodes } from "../errors";
import type { Workspace } from "../workspace";

/** One server-sent event of an mlenv log stream, its data parsed as JSON. */
export interface StreamEvent {
  event: string;
  id: string | undefined;
  data: unknown;
}

/**
 * Follow an mlenv event stream (`GET <path>` with `Accept: text/event-stream`): every event
 * until the `end` event (yielded, then the stream is done); an `error` event throws. A dropped
 * connection resumes after the last event id seen (`Last-Event-ID`), so nothing is repeated or
 * lost; five failed reconnects in a row give up with `E_NETWORK`.
 */
export async function* followEventStream(
  workspace: Workspace,
  path: string,
  options: { after?: number; signal?: AbortSignal; what: string },
): AsyncGenerator<StreamEvent> {
  let last = options.after !== undefined && options.after > 0 ? String(options.after) : undefined;
  for (let attempt = 0; ; attempt++) {
    const headers: Record<string, string> = { accept: "text/event-stream" };
    if (workspace.token) headers.authorization = `Bearer ${workspace.token}`;
    if (last !== undefined) headers["last-event-id"] = last;
    let res: Response;
    try {
      res = await workspace.fetch(`${workspace.url}${path}`, {
        headers,
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } catch (cause) {
      if (options.signal?.aborted || attempt >= 5) {
        throw new MlenvError(
          SdkErrorCodes.network,
          `Expected ${options.what} at ${workspace.url}; it failed: ${cause instanceof Error ? cause.message : String(cause)}`,
          { cause },
        );
      }
      await new Promise((r) => setTimeout(r, 200 * (attempt + 1)));
      continue;
    }
    if (!res.ok || !res.body) {
      const text = await res.text();
      let body: { code?: unknown; message?: unknown; details?: unknown } = {};
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        // not JSON
      }
      throw new MlenvError(
        typeof body.code === "string" ? body.code : SdkErrorCodes.http,
        typeof body.message === "string"
          ? body.message
          : `Expected ${options.what}; received HTTP ${res.status} ${preview(text)}`,
        { status: res.status, details: body.details },
      );
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
        for (const { event = "message", data, id } of events.splice(0)) {
          if (data === "") continue;
          const payload = JSON.parse(data) as unknown;
          if (event === "error") {
            const e = payload as { code?: string; message?: string };
            throw new MlenvError(e.code ?? SdkErrorCodes.badResponse, e.message ?? `${options.what} failed`);
          }
          if (id !== undefined) last = id;
          attempt = 0;
          yield { event, id, data: payload };
          if (event === "end") return;
        }
      }
    } catch (e) {
      if (e instanceof MlenvError || e instanceof SyntaxError || options.signal?.aborted) throw e;
      // the connection dropped: resume after the last event seen
    } finally {
      reader.releaseLock();
    }
    if (options.signal?.aborted) return;
  }
}
