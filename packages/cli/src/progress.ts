import { type Painter, sanitize } from "./output";

/** What a progress line shows: the phase, bytes moved (of a total when known), a detail. */
export interface ProgressState {
  phase?: string;
  bytes?: number;
  total?: number;
  detail?: string;
}

/** A one-line progress display on a terminal (phase, bytes, elapsed time). */
export interface Progress {
  update(state: ProgressState): void;
  /** Remove the line: the work is over (what it printed stays). */
  done(): void;
}

/** Progress that shows nothing (output is not a terminal, or `--quiet`). */
export const noProgress: Progress = { update() {}, done() {} };

const FRAMES = ["-", "\\", "|", "/"];

/** `1.5 KiB`, `3.2 MiB`. */
export function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** `0.4s`, `12.0s`, `3m05s`. */
export function humanElapsed(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.floor(s - m * 60)).padStart(2, "0")}s`;
}

/**
 * A progress line on standard error, redrawn in place (`\r` + erase line) at most every
 * `intervalMs`, with the elapsed time ticking. Lines printed meanwhile go above it: callers clear
 * it first ({@link TerminalProgress.clear}) and redraw after.
 */
export class TerminalProgress implements Progress {
  readonly #write: (text: string) => void;
  readonly #columns: () => number;
  readonly #paint: Painter;
  readonly #started = Date.now();
  readonly #onDone: () => void;
  #state: ProgressState;
  #frame = 0;
  #shown = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastDraw = 0;

  constructor(options: {
    write: (text: string) => void;
    columns: () => number;
    paint: Painter;
    phase: string;
    onDone: () => void;
    intervalMs?: number;
    /** Nothing is drawn before this many ms: quick work shows no line at all (default 250). */
    delayMs?: number;
  }) {
    this.#write = options.write;
    this.#columns = options.columns;
    this.#paint = options.paint;
    this.#onDone = options.onDone;
    this.#state = { phase: options.phase };
    this.#delayMs = options.delayMs ?? 250;
    this.#timer = setInterval(() => this.draw(), options.intervalMs ?? 120);
    this.#timer.unref?.();
  }

  readonly #delayMs: number;

  update(state: ProgressState): void {
    this.#state = { ...this.#state, ...state };
    if (Date.now() - this.#lastDraw >= 50) this.draw();
  }

  /** The line as it is drawn now (without escapes). */
  line(): string {
    const s = this.#state;
    const parts = [sanitize(s.phase ?? "")];
    if (s.bytes)
      parts.push(s.total ? `${humanBytes(s.bytes)} of ${humanBytes(s.total)}` : humanBytes(s.bytes));
    if (s.detail) parts.push(sanitize(s.detail));
    parts.push(humanElapsed(Date.now() - this.#started));
    const text = `${FRAMES[this.#frame % FRAMES.length]} ${parts.join(" · ")}`;
    const width = Math.max(20, this.#columns() - 1);
    return text.length > width ? `${text.slice(0, width - 1)}…` : text;
  }

  draw(): void {
    if (!this.#timer || Date.now() - this.#started < this.#delayMs) return;
    this.#frame++;
    this.#lastDraw = Date.now();
    this.#write(`\r\x1b[K${this.#paint(this.line(), "dim")}`);
    this.#shown = true;
  }

  /** Erase the line (before other output is printed). */
  clear(): void {
    if (this.#shown) this.#write("\r\x1b[K");
    this.#shown = false;
  }

  done(): void {
    if (!this.#timer) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
    this.#onDone();
  }
}
