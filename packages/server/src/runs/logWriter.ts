import { EventEmitter } from "node:events";
import { redactSignedUrls } from "../signing/urlSigner";
import type { LogLine, RunStore } from "./runStore";

/**
 * Emits an owner's id once a batch of its lines is stored: followers in this process wake at
 * once (those of owners writing in another process poll the database).
 */
export const logsAppended = new EventEmitter().setMaxListeners(0);

/** Buffers an owner's output lines and writes them in batches (numbered from `startSeq + 1`). */
export class LogWriter {
  #seq: number;
  #buffer: LogLine[] = [];
  #chain: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | null = null;
  /** The last lines, kept in memory for error messages. */
  readonly tail: string[] = [];

  constructor(
    private readonly store: RunStore,
    private readonly ownerId: string,
    startSeq = 0,
  ) {
    this.#seq = startSeq;
  }

  /** Append a line; signed wheel URLs (pip prints them) lose their signature first. */
  write(stream: LogLine["stream"], raw: string): void {
    const text = redactSignedUrls(raw);
    const cut = text.length > 16_384 ? `${text.slice(0, 16_384)}…` : text;
    this.#buffer.push({ seq: ++this.#seq, stream, text: cut });
    this.tail.push(cut);
    if (this.tail.length > 20) this.tail.shift();
    if (this.#buffer.length >= 200) void this.flush();
    else if (!this.#timer) this.#timer = setTimeout(() => void this.flush(), 100);
  }

  /** Write everything buffered so far. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    const batch = this.#buffer;
    this.#buffer = [];
    if (batch.length > 0) {
      this.#chain = this.#chain
        .then(() => this.store.appendLogs(this.ownerId, batch))
        .then(() => void logsAppended.emit(this.ownerId))
        .catch(() => {});
    }
    return this.#chain;
  }
}
