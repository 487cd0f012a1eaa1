import { DockerBuildError, type FailedStep } from "./errors";

/** One line of build output, tagged with the Dockerfile step it belongs to. */
export interface BuildLogLine {
  /** 1-based step number, or null before the first step. */
  step: number | null;
  text: string;
}

// The classic builder colours a RUN step's stderr with ANSI escapes (ESC[91m ... ESC[0m).
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;
const STEP = /^Step (\d+)\/(\d+) : (.*)$/;
const MAX_STEP_OUTPUT = 64 * 1024;

/**
 * Follows the classic builder's JSON progress messages: splits them into lines, tracks the
 * current step and its output, and remembers the built image id or the engine's error.
 */
export class BuildLogTracker {
  private step: number | null = null;
  private total: number | null = null;
  private instruction: string | null = null;
  private stepOutput = "";
  private partial = "";
  imageId: string | null = null;
  error: string | null = null;
  readonly steps: { index: number; instruction: string; cached: boolean }[] = [];

  constructor(private readonly onLine: (line: BuildLogLine) => void = () => {}) {}

  handle(message: Record<string, unknown>): void {
    if (typeof message.stream === "string") this.text(message.stream);
    if (typeof message.status === "string") {
      const progress = typeof message.progress === "string" ? ` ${message.progress}` : "";
      this.text(`${message.status}${progress}\n`);
    }
    const aux = message.aux as { ID?: unknown } | undefined;
    if (aux && typeof aux.ID === "string") this.imageId = aux.ID;
    if (message.error !== undefined || message.errorDetail !== undefined) {
      const detail = message.errorDetail as { message?: unknown } | undefined;
      const msg =
        typeof message.error === "string"
          ? message.error
          : typeof detail?.message === "string"
            ? detail.message
            : JSON.stringify(message);
      this.error = msg;
      this.text(`ERROR: ${msg}\n`);
    }
  }

  private text(chunk: string): void {
    this.partial += chunk.replace(ANSI, "").replace(/\r\n/g, "\n");
    let nl = this.partial.indexOf("\n");
    while (nl >= 0) {
      this.line(this.partial.slice(0, nl));
      this.partial = this.partial.slice(nl + 1);
      nl = this.partial.indexOf("\n");
    }
  }

  private line(text: string): void {
    const m = STEP.exec(text);
    if (m) {
      this.step = Number(m[1]);
      this.total = Number(m[2]);
      this.instruction = m[3] as string;
      this.stepOutput = "";
      this.steps.push({ index: this.step, instruction: this.instruction, cached: false });
    } else {
      if (text.trim() === "---> Using cache") {
        const last = this.steps[this.steps.length - 1];
        if (last) last.cached = true;
      }
      this.stepOutput += `${text}\n`;
      if (this.stepOutput.length > MAX_STEP_OUTPUT) this.stepOutput = this.stepOutput.slice(-MAX_STEP_OUTPUT);
    }
    this.onLine({ step: this.step, text });
  }

  /** Flush a trailing partial line. */
  end(): void {
    if (this.partial !== "") {
      const rest = this.partial;
      this.partial = "";
      this.line(rest);
    }
  }

  failedStep(): FailedStep {
    return { index: this.step, total: this.total, instruction: this.instruction, output: this.stepOutput };
  }

  /** The error to throw when the engine reported one. */
  failure(): DockerBuildError | null {
    return this.error === null ? null : new DockerBuildError(this.error, this.failedStep());
  }
}
