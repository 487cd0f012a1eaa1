/** Codes raised by the SDK itself. Server error codes are passed through unchanged. */
export const SdkErrorCodes = {
  /** The server could not be reached (connection refused, DNS, aborted). */
  network: "E_NETWORK",
  /** The server answered with an error status but no `{code, message}` body. */
  http: "E_HTTP",
  /** The server answered with a body that is not what the API documents. */
  badResponse: "E_BAD_RESPONSE",
  /** No workspace URL/token could be found (arguments, environment, config file). */
  config: "E_CONFIG",
  /** A caller passed an argument the SDK cannot use. */
  invalidArgument: "E_INVALID_ARGUMENT",
  /** A definition folder or file could not be read or written. */
  io: "E_IO",
  /** A local conda prefix could not be read as an environment. */
  condaPrefix: "E_CONDA_PREFIX",
  /** A run's source directory is larger than the snapshot limit. */
  snapshotTooLarge: "E_SNAPSHOT_TOO_LARGE",
  /** A run or deployment did not reach the wanted state in time. */
  timeout: "E_TIMEOUT",
  /** A run ended Failed or Canceled, or a service failed (with `raiseOnError`). */
  runFailed: "E_RUN_FAILED",
  /** An image build ended failed or cancelled (with `raiseOnError`). */
  buildFailed: "E_BUILD_FAILED",
} as const;

export type SdkErrorCode = (typeof SdkErrorCodes)[keyof typeof SdkErrorCodes];

export interface MlenvErrorOptions {
  cause?: unknown;
  /** HTTP status when the error came from the server. */
  status?: number;
  /** Extra structured data (the server's `details`). */
  details?: unknown;
}

/**
 * The one error class of the SDK. Recognise errors by `code` (`isMlenvError(e, "E_NOT_FOUND")`),
 * not by `instanceof`: two copies of the SDK in one bundle have two classes.
 * `code` is an {@link SdkErrorCode} or a code the server returned (e.g. `E_NOT_FOUND`).
 */
export class MlenvError extends Error {
  override readonly name = "MlenvError";
  readonly code: string;
  readonly status: number | undefined;
  readonly details: unknown;

  constructor(code: string, message: string, options: MlenvErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
    this.details = options.details;
  }

  /** A sanitised plain object (no stack, no cause chain). */
  toJSON(): { code: string; message: string; status?: number; details?: unknown } {
    const out: { code: string; message: string; status?: number; details?: unknown } = {
      code: this.code,
      message: this.message,
    };
    if (this.status !== undefined) out.status = this.status;
    if (this.details !== undefined) out.details = this.details;
    return out;
  }
}

/** True when `e` is an mlenv error (by shape, across bundle copies), optionally with a given code. */
export function isMlenvError(e: unknown, code?: string): e is MlenvError {
  if (typeof e !== "object" || e === null) return false;
  const c = (e as { code?: unknown }).code;
  if (typeof c !== "string" || !c.startsWith("E_")) return false;
  if (!(e instanceof Error)) return false;
  return code === undefined || c === code;
}

export { preview } from "@mlenv/core";
