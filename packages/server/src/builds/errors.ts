import { CodedError } from "@mlenv/core";

/** Error codes of the build queue. Recognise errors by `code`. */
export const BuildErrorCode = {
  NOT_FOUND: "E_BUILD_NOT_FOUND",
  TIMEOUT: "E_BUILD_TIMEOUT",
  CANCELLED: "E_BUILD_CANCELLED",
  INTERRUPTED: "E_BUILD_INTERRUPTED",
  CLOSED: "E_BUILD_QUEUE_CLOSED",
  FAILED: "E_BUILD_FAILED",
  /** The definition asks for a Python the base image does not have, and nothing can install it. */
  PYTHON_UNAVAILABLE: "E_PYTHON_UNAVAILABLE",
} as const;

export type BuildErrorCode = (typeof BuildErrorCode)[keyof typeof BuildErrorCode];

/** Base class of the build queue's errors. */
export class BuildError extends CodedError<BuildErrorCode> {
  override readonly name = "BuildError";
}
