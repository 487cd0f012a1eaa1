import { CodedError } from "@mlenv/core";

/** Options of an {@link HttpError}: what the body's `details` carry, and the cause. */
export interface HttpErrorOptions {
  details?: Record<string, unknown>;
  cause?: unknown;
}

/**
 * The base of the domain errors the server answers over HTTP as they are: each says its own
 * status, and its body is `{ code, message, details }` (no stack, no cause).
 */
export abstract class HttpError<Code extends string> extends CodedError<Code> {
  readonly details: Record<string, unknown>;

  constructor(code: Code, message: string, options: HttpErrorOptions = {}) {
    super(code, message, options);
    this.details = options.details ?? {};
  }

  /** The HTTP status this error answers with. */
  abstract get status(): number;

  /** The sanitised HTTP body: no stack, no cause. */
  override toJSON(): { code: Code; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}
