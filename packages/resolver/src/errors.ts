import { CodedError, hasErrorShape } from "@mlenv/core";

/** Error codes of @mlenv/resolver. Recognise errors by `code`, not by `instanceof`. */
export const ResolverErrorCode = {
  FETCH_FAILED: "E_FETCH_FAILED",
  REPODATA_INVALID: "E_REPODATA_INVALID",
  INDEX_INVALID: "E_INDEX_INVALID",
  METADATA_INVALID: "E_METADATA_INVALID",
  UNSATISFIABLE: "E_UNSATISFIABLE",
  SPEC_INVALID: "E_RESOLVER_SPEC_INVALID",
  PLATFORM_UNKNOWN: "E_PLATFORM_UNKNOWN",
  LOCK_MISMATCH: "E_LOCK_MISMATCH",
  NO_CHANNELS: "E_NO_CHANNELS",
} as const;

export type ResolverErrorCode = (typeof ResolverErrorCode)[keyof typeof ResolverErrorCode];

/** Base class of every error thrown by @mlenv/resolver. */
export class ResolverError extends CodedError<ResolverErrorCode> {
  override readonly name = "ResolverError";
  /** For E_UNSATISFIABLE: the conflict explanation, one statement per line. */
  readonly explanation: string[];

  constructor(
    code: ResolverErrorCode,
    message: string,
    options: { cause?: unknown; explanation?: string[] } = {},
  ) {
    super(code, message, options);
    this.explanation = options.explanation ?? [];
  }

  override toJSON(): { name: string; code: string; message: string; explanation: string[] } {
    return { name: this.name, code: this.code, message: this.message, explanation: this.explanation };
  }
}

/** True when `e` is a ResolverError (by shape, so it works across bundle copies). */
export function isResolverError(e: unknown): e is ResolverError {
  return hasErrorShape(e, "ResolverError");
}

export { preview } from "@mlenv/core";
