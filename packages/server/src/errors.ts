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
  /** A web service's worker did not answer (in time, or with JSON). */
  SERVICE_UNREACHABLE: "E_SERVICE_UNREACHABLE",
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
};

export { preview } from "@mlenv/core";

/** Base class of every error the server reports over HTTP. */
export class ServerError extends Error {
  override readonly name = "ServerError";
  readonly code: ServerErrorCode;
  readonly details: Record<string, unknown>;

  constructor(
    code: ServerErrorCode,
    message: string,
    options: { details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? {};
  }

  get status(): number {
    return STATUS[this.code];
  }

  /** The sanitised HTTP body: no stack, no cause. */
  toJSON(): { code: string; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

/** True when `e` is a ServerError (checked by shape, so it works across bundle copies). */
export function isServerError(e: unknown): e is ServerError {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as { name?: unknown }).name === "ServerError" &&
    typeof (e as { code?: unknown }).code === "string" &&
    Object.values(ServerErrorCode).includes((e as { code: ServerErrorCode }).code)
  );
}
