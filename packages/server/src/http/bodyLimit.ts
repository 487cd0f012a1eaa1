import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ServerError, ServerErrorCode } from "../errors";

export interface TooLargeLimitOptions {
  /** Largest request body, in bytes. */
  maxSize: number;
  /** The limit the error names in `details.maxBytes` (default `maxSize`). */
  maxBytes?: number;
  /** What the 413 says was expected. */
  message: string;
}

/** A body limit that answers 413 E_TOO_LARGE `{ details: { maxBytes } }` past `maxSize`. */
export function tooLargeLimit(options: TooLargeLimitOptions): MiddlewareHandler {
  const maxBytes = options.maxBytes ?? options.maxSize;
  return bodyLimit({
    maxSize: options.maxSize,
    onError: (c) =>
      c.json(
        new ServerError(ServerErrorCode.TOO_LARGE, options.message, { details: { maxBytes } }).toJSON(),
        413,
      ),
  });
}

/** The body size of a JSON request carrying `bytes` of file content as base64, with room for the rest. */
export function base64BodySize(bytes: number): number {
  return Math.ceil(bytes * 1.4) + 1024 * 1024;
}
