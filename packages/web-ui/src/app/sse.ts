/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * An incremental `text/event-stream` parser (the WHATWG rules that matter here: `event`, `data`
 * (joined by newlines), `id`, comments, CRLF/LF, fields split across chunks). EventSource cannot
 * send an Authorization header, so the UI reads the stream with fetch and parses it with this.
 */
export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id: string | null = null;

  /** Feed decoded text; returns the events completed by it. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const nl = this.#buffer.search(/\r\n|\n|\r/);
      if (nl < 0) break;
      // A lone CR at the very end may be the first half of CRLF: wait for more.
      if (this.#buffer[nl] === "\r" && nl === this.#buffer.length - 1) break;
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + (this.#buffer.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (this.#data.length > 0) {
          out.push({ event: this.#event || "message", data: this.#data.join("\n"), id: this.#id });
        }
        this.#event = "";
        this.#data = [];
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") this.#event = value;
      else if (field === "data") this.#data.push(value);
      else if (field === "id" && !value.includes("\0")) this.#id = value;
    }
    return out;
  }
}
