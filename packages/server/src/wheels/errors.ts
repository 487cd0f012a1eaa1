import { HttpError, type HttpErrorOptions } from "../httpError";

/** Codes of every error the wheel subsystem raises. Recognise errors by `code`. */
export const WheelErrorCodes = {
  /** The file name is not a safe PEP 427 wheel name. */
  filenameInvalid: "E_WHEEL_FILENAME_INVALID",
  /** The bytes are not a well-formed zip archive. */
  notZip: "E_WHEEL_NOT_ZIP",
  /** The upload is over the configured size limit. */
  tooLarge: "E_WHEEL_TOO_LARGE",
  /** Decompressing would exceed the uncompressed-size, ratio or entry-count limits. */
  zipBomb: "E_WHEEL_ZIP_BOMB",
  /** An archive member name is absolute, climbs with `..`, or holds NUL / backslash / control characters. */
  unsafeMember: "E_WHEEL_UNSAFE_MEMBER",
  /** The archive uses a zip feature wheels do not need (encryption, zip64, unknown compression). */
  unsupportedZip: "E_WHEEL_UNSUPPORTED_ZIP",
  /** `*.dist-info/METADATA`, `WHEEL` or `RECORD` is missing, or METADATA is malformed. */
  metadataInvalid: "E_WHEEL_METADATA_INVALID",
  /** METADATA's Name or Version does not match the file name. */
  metadataMismatch: "E_WHEEL_METADATA_MISMATCH",
  /** RECORD does not list a member, or a hash/size in RECORD does not match the member. */
  recordMismatch: "E_WHEEL_RECORD_MISMATCH",
  /** An upload that is not a wheel (an sdist, an egg): this index keeps wheels only. */
  notWheel: "E_WHEEL_NOT_WHEEL",
  /** A digest sent with an upload (`sha256_digest`, `md5_digest`) does not match the bytes received. */
  digestMismatch: "E_WHEEL_DIGEST_MISMATCH",
  /** A different wheel is already stored under this file name (upload with overwrite to replace). */
  exists: "E_WHEEL_EXISTS",
  /** No such wheel in the workspace. */
  notFound: "E_WHEEL_NOT_FOUND",
  /** A `mlenv+wheel://` reference is malformed. */
  referenceInvalid: "E_WHEEL_REFERENCE_INVALID",
  /** A secret is used where its allowed hosts do not permit (another host, a requirement URL). */
  secretNotAllowed: "E_WHEEL_SECRET_NOT_ALLOWED",
  /** A pip block references `${MLENV_SECRET_<NAME>}` but the workspace has no such secret. */
  secretNotFound: "E_WHEEL_SECRET_NOT_FOUND",
} as const;

export type WheelErrorCode = (typeof WheelErrorCodes)[keyof typeof WheelErrorCodes];

/** HTTP status for each code, used by the routes. */
export const wheelErrorStatus: Record<WheelErrorCode, number> = {
  E_WHEEL_FILENAME_INVALID: 400,
  E_WHEEL_NOT_ZIP: 400,
  E_WHEEL_TOO_LARGE: 413,
  E_WHEEL_ZIP_BOMB: 400,
  E_WHEEL_UNSAFE_MEMBER: 400,
  E_WHEEL_UNSUPPORTED_ZIP: 400,
  E_WHEEL_METADATA_INVALID: 400,
  E_WHEEL_METADATA_MISMATCH: 400,
  E_WHEEL_RECORD_MISMATCH: 400,
  E_WHEEL_NOT_WHEEL: 400,
  E_WHEEL_DIGEST_MISMATCH: 400,
  E_WHEEL_EXISTS: 409,
  E_WHEEL_NOT_FOUND: 404,
  E_WHEEL_REFERENCE_INVALID: 400,
  E_WHEEL_SECRET_NOT_FOUND: 400,
  E_WHEEL_SECRET_NOT_ALLOWED: 400,
};

/** Cut a received value for an error message: at most 200 characters, control characters escaped. */
export function received(value: unknown): string {
  const text = typeof value === "string" ? value : String(value);
  const escaped = JSON.stringify(text)
    .slice(1, -1)
    .replace(/[\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return escaped.length > 200 ? `${escaped.slice(0, 200)}…` : escaped;
}

export type WheelErrorOptions = HttpErrorOptions;

/** The one error class of the wheel subsystem (validation, storage, references). */
export class WheelError extends HttpError<WheelErrorCode> {
  override readonly name = "WheelError";

  get status(): number {
    return wheelErrorStatus[this.code];
  }
}

/** True when `e` is a wheel error (checked by shape and code, not only `instanceof`). */
export function isWheelError(e: unknown, code?: WheelErrorCode): e is WheelError {
  if (typeof e !== "object" || e === null) return false;
  const c = (e as { code?: unknown }).code;
  if (typeof c !== "string" || !c.startsWith("E_WHEEL_")) return false;
  return code === undefined || c === code;
}
