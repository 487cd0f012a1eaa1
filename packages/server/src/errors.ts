import { hasErrorShape, isCoreError } from "@mlenv/core";
import { HttpError } from "./httpError";
import { isDatabaseUnavailable } from "./store/pgPool";

/** Error codes of @mlenv/server. Clients recognise errors by `code`. */
export const ServerErrorCode = {
  BAD_REQUEST: "E_BAD_REQUEST",
  DEFINITION_INVALID: "E_DEFINITION_INVALID",
  LOCK_INVALID: "E_LOCK_INVALID",
  LOCK_MISMATCH: "E_LOCK_MISMATCH",
  NAME_INVALID: "E_NAME_INVALID",
  UNAUTHENTICATED: "E_UNAUTHENTICATED",
  FORBIDDEN: "E_FORBIDDEN",
  NAME_RESERVED: "E_NAME_RESERVED",
  READ_ONLY: "E_READ_ONLY",
  NOT_FOUND: "E_NOT_FOUND",
  CONFLICT: "E_CONFLICT",
  TOO_LARGE: "E_TOO_LARGE",
  INTERNAL: "E_INTERNAL",
  /** The database is unreachable right now (restart, failover): retry shortly. */
  UNAVAILABLE: "E_UNAVAILABLE",
  /** A web service's worker did not answer (in time, or with JSON). */
  SERVICE_UNREACHABLE: "E_SERVICE_UNREACHABLE",
  /** The local target is off, or this server cannot confine user code and has several workspaces. */
  LOCAL_TARGET_REFUSED: "E_LOCAL_TARGET_REFUSED",
  /** GPUs were asked for that this machine (or its Docker engine) cannot provide. */
  GPU_UNAVAILABLE: "E_GPU_UNAVAILABLE",
} as const;

export type ServerErrorCode = (typeof ServerErrorCode)[keyof typeof ServerErrorCode];

const STATUS: Record<ServerErrorCode, number> = {
  E_BAD_REQUEST: 400,
  E_DEFINITION_INVALID: 400,
  E_LOCK_INVALID: 400,
  E_LOCK_MISMATCH: 400,
  E_NAME_INVALID: 400,
  E_UNAUTHENTICATED: 401,
  E_FORBIDDEN: 403,
  E_NAME_RESERVED: 403,
  E_READ_ONLY: 403,
  E_NOT_FOUND: 404,
  E_CONFLICT: 409,
  E_TOO_LARGE: 413,
  E_INTERNAL: 500,
  E_SERVICE_UNREACHABLE: 502,
  E_UNAVAILABLE: 503,
  E_LOCAL_TARGET_REFUSED: 403,
  E_GPU_UNAVAILABLE: 409,
};

export { preview } from "@mlenv/core";

/** Base class of every error the server reports over HTTP. */
export class ServerError extends HttpError<ServerErrorCode> {
  override readonly name = "ServerError";

  get status(): number {
    return STATUS[this.code];
  }
}

/** True when `e` is a ServerError (checked by shape, so it works across bundle copies). */
export function isServerError(e: unknown): e is ServerError {
  return (
    hasErrorShape(e, "ServerError") &&
    Object.values(ServerErrorCode).includes((e as { code: ServerErrorCode }).code)
  );
}

/**
 * The ServerError an error handler answers with: the error itself when it is one, E_UNAVAILABLE
 * (503, retry) when the database cannot be reached (a PostgreSQL restart or failover, a SQLite
 * file locked past its busy timeout), E_DEFINITION_INVALID (400) for a core error (see
 * {@link definitionErrorOf}), otherwise null (a 500 the handler logs).
 */
export function asServerError(e: unknown): ServerError | null {
  if (isServerError(e)) return e;
  const definitionError = definitionErrorOf(e);
  if (definitionError) return definitionError;
  if (isDatabaseUnavailable(e) || (e as { code?: unknown } | null)?.code === "SQLITE_BUSY") {
    return new ServerError(
      ServerErrorCode.UNAVAILABLE,
      "The database cannot be reached right now (restarting or failing over); retry in a few seconds",
      { details: { retryAfterSeconds: 5 }, cause: e },
    );
  }
  return null;
}

/** The JSON answer for a ServerError (503s say when to retry). */
export function serverErrorResponse(
  c: { json: (body: unknown, status: 400) => Response; header: (name: string, value: string) => void },
  e: ServerError,
): Response {
  if (e.code === ServerErrorCode.UNAVAILABLE) c.header("Retry-After", "5");
  return c.json(e.toJSON(), e.status as 400);
}

/**
 * A core error (a definition that does not parse, validate or render, e.g. one stored by an older
 * server, or conda packages on a conda-less base image) as the HTTP error it is: the caller's
 * definition, 400 E_DEFINITION_INVALID with core's code and issues; null for anything else.
 */
export function definitionErrorOf(e: unknown): ServerError | null {
  if (!isCoreError(e)) return null;
  return new ServerError(ServerErrorCode.DEFINITION_INVALID, e.message.slice(0, 1000), {
    details: { reason: e.code, issues: e.issues },
    cause: e,
  });
}

/** Deepest JSON nesting a request body may have (definitions need a handful of levels). */
export const MAX_JSON_DEPTH = 64;

/**
 * E_BAD_REQUEST when a parsed JSON body nests deeper than {@link MAX_JSON_DEPTH} (walked without
 * recursion: a hostile body must not exhaust the stack of validators that recurse).
 */
export function refuseDeepJson(value: unknown): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > MAX_JSON_DEPTH) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected a JSON body nested at most ${MAX_JSON_DEPTH} levels deep; received one nested deeper`,
        { details: { maxDepth: MAX_JSON_DEPTH } },
      );
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}
