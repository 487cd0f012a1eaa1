import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { WheelError, type WheelErrorCode, WheelErrorCodes } from "./errors";
import type { ValidatedWheel } from "./validateWheel";
import type { ValidateJob } from "./validateWorker";
import type { ZipLimits } from "./zipArchive";

export interface WheelValidatorOptions {
  /** Validations running at once; more wait their turn (default 2). */
  maxConcurrent?: number;
  /** A validation still running after this long is stopped and the upload refused (default 120 s). */
  timeoutMs?: number;
  /** Heap of each validation's worker, MiB (default 256). */
  maxHeapMb?: number;
}

type WorkerAnswer =
  | { ok: true; wheel: ValidatedWheel }
  | { ok: false; error: { code: WheelErrorCode | null; message: string; details: Record<string, unknown> } };

/**
 * Where the worker's code is: next to this module when running from source (`.ts`, loaded
 * through tsx, as tests and `--conditions=@mlenv/source` do), else `validateWorker.js` next to
 * the bundle (tsup builds it as its own entry).
 */
function workerSource(): { code: string; eval: true } | { url: URL; eval: false } {
  const here = import.meta.url;
  if (here.endsWith(".ts")) {
    const target = new URL("./validateWorker.ts", here).href;
    // require.resolve finds tsx's CommonJS build; its ES module build sits next to it
    const tsx = pathToFileURL(
      createRequire(here)
        .resolve("tsx/esm/api")
        .replace(/\.cjs$/, ".mjs"),
    ).href;
    return {
      code: `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(target)}); })`,
      eval: true,
    };
  }
  return { url: new URL("./validateWorker.js", here), eval: false };
}

/**
 * Validates uploaded wheels in worker threads: the event loop keeps serving while a wheel is
 * inflated and hashed. The work is bounded by the zip limits (size, entries, expansion, ratio),
 * by a time limit and a heap limit per validation, and by how many run at once.
 */
export class WheelValidator {
  readonly #maxConcurrent: number;
  readonly #timeoutMs: number;
  readonly #maxHeapMb: number;
  readonly #waiting: (() => void)[] = [];
  readonly #workers = new Set<Worker>();
  #running = 0;
  #closed = false;

  constructor(options: WheelValidatorOptions = {}) {
    this.#maxConcurrent = options.maxConcurrent ?? 2;
    this.#timeoutMs = options.timeoutMs ?? 120_000;
    this.#maxHeapMb = options.maxHeapMb ?? 256;
  }

  /** Validations running now (the `mlenv_wheel_validations_running` gauge). */
  get running(): number {
    return this.#running;
  }

  /** Validations waiting for a free slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Validate the wheel file at `path` named `filename` (see validateWheelSource); throws a WheelError. */
  async validateFile(
    filename: string,
    path: string,
    limits: Partial<ZipLimits>,
    known: { sha256: string },
  ): Promise<ValidatedWheel> {
    if (this.#running >= this.#maxConcurrent) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
    this.#running++;
    try {
      return await this.#run({ filename, path, limits, sha256: known.sha256 });
    } finally {
      this.#running--;
      this.#waiting.shift()?.();
    }
  }

  #run(job: ValidateJob): Promise<ValidatedWheel> {
    if (this.#closed) return Promise.reject(new Error("the wheel validator is closed"));
    const src = workerSource();
    const worker = new Worker(src.eval ? src.code : src.url, {
      eval: src.eval,
      workerData: job,
      resourceLimits: { maxOldGenerationSizeMb: this.#maxHeapMb, maxYoungGenerationSizeMb: 8 },
      stdout: false,
      stderr: false,
    });
    this.#workers.add(worker);
    return new Promise<ValidatedWheel>((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#workers.delete(worker);
        void worker.terminate();
        fn();
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(
              new WheelError(
                WheelErrorCodes.zipBomb,
                `Expected a wheel that validates within ${this.#timeoutMs} ms; this one took longer (too much to inflate and hash), so it was refused`,
                { details: { timeoutMs: this.#timeoutMs } },
              ),
            ),
          ),
        this.#timeoutMs,
      );
      worker.once("message", (m: WorkerAnswer) =>
        finish(() => {
          if (m.ok) {
            resolve({ ...m.wheel, metadata: new Uint8Array(m.wheel.metadata) });
            return;
          }
          if (m.error.code) {
            reject(new WheelError(m.error.code, m.error.message, { details: m.error.details }));
          } else reject(new Error(`wheel validation failed: ${m.error.message}`));
        }),
      );
      worker.once("error", (e) =>
        finish(() => {
          const oom = (e as { code?: unknown }).code === "ERR_WORKER_OUT_OF_MEMORY";
          reject(
            oom
              ? new WheelError(
                  WheelErrorCodes.zipBomb,
                  `Expected a wheel that validates within ${this.#maxHeapMb} MiB of memory; this one needed more, so it was refused`,
                  { details: { maxHeapMb: this.#maxHeapMb } },
                )
              : e,
          );
        }),
      );
      worker.once("exit", (code) =>
        finish(() => reject(new Error(`wheel validation worker exited (${code}) without an answer`))),
      );
    });
  }

  /** Stop every running validation (their uploads fail). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.terminate()));
    this.#workers.clear();
  }
}
