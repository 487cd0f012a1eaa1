import type { Context, ErrorHandler } from "hono";
import { asServerError, ServerErrorCode, serverErrorResponse } from "../errors";
import type { Logger } from "../logger";
import { isSigningError } from "../signing/urlSigner";
import { isWheelError } from "../wheels/errors";

/** Paths whose clients (pip, twine-like uploaders) are asked for HTTP Basic credentials on a 401. */
const BASIC_AUTH_PATHS = /^\/(pypi|upload)\/|^\/api\/v1\/(wheels|secrets)(\/|$)/;

/**
 * The server's one error handler: handlers throw, this answers. A domain error answers its own
 * status and `{code, message, details}`; anything else is logged and answers 500 without details.
 */
export function errorHandler(logger: Pick<Logger, "error"> | undefined): ErrorHandler {
  return (err: Error, c: Context) => {
    if (isWheelError(err) || isSigningError(err)) return c.json(err.toJSON(), err.status as 400);
    const known = asServerError(err);
    if (known) {
      if (known.code === ServerErrorCode.UNAUTHENTICATED && BASIC_AUTH_PATHS.test(c.req.path))
        c.header("WWW-Authenticate", 'Basic realm="mlenv"');
      return serverErrorResponse(c, known);
    }
    const code = (err as { code?: unknown }).code;
    if (code === "E_BUILD_NOT_FOUND") {
      return c.json({ code: ServerErrorCode.NOT_FOUND, message: err.message, details: {} }, 404);
    }
    // no engine answers: the service is unavailable, not broken
    if (code === "E_DOCKER_UNREACHABLE") {
      return c.json({ code, message: err.message.slice(0, 1000), details: {} }, 503);
    }
    logger?.error("request failed", {
      method: c.req.method,
      path: c.req.path,
      error: String(err).slice(0, 500),
    });
    return c.json({ code: ServerErrorCode.INTERNAL, message: "Internal server error", details: {} }, 500);
  };
}
