import { CodedError, hasErrorShape } from "@mlenv/core";

/** Error codes of @mlenv/conda-installer. Recognise errors by `code`, not by `instanceof`. */
export const CondaInstallErrorCode = {
  FETCH_FAILED: "E_CONDA_FETCH_FAILED",
  HASH_MISMATCH: "E_CONDA_HASH_MISMATCH",
  ARCHIVE_INVALID: "E_CONDA_ARCHIVE_INVALID",
  PATH_UNSAFE: "E_CONDA_PATH_UNSAFE",
  PATH_TYPE_UNKNOWN: "E_CONDA_PATH_TYPE_UNKNOWN",
  FILE_CLASH: "E_CONDA_FILE_CLASH",
  PLATFORM_MISMATCH: "E_CONDA_PLATFORM_MISMATCH",
  PREFIX_TOO_LONG: "E_CONDA_PREFIX_TOO_LONG",
  PREFIX_INVALID: "E_CONDA_PREFIX_INVALID",
  LINK_SCRIPT_FAILED: "E_CONDA_LINK_SCRIPT_FAILED",
  PIP_FAILED: "E_CONDA_PIP_FAILED",
  LOCK_TIMEOUT: "E_CONDA_CACHE_LOCKED",
} as const;

export type CondaInstallErrorCode = (typeof CondaInstallErrorCode)[keyof typeof CondaInstallErrorCode];

/** Base class of every error thrown by @mlenv/conda-installer. */
export class CondaInstallError extends CodedError<CondaInstallErrorCode> {
  override readonly name = "CondaInstallError";
  /** The package (name-version-build) the error is about, when there is one. */
  readonly package: string | undefined;

  constructor(
    code: CondaInstallErrorCode,
    message: string,
    options: { cause?: unknown; package?: string } = {},
  ) {
    super(code, message, options);
    this.package = options.package;
  }

  override toJSON(): { name: string; code: string; message: string; package?: string } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.package === undefined ? {} : { package: this.package }),
    };
  }
}

/** True when `e` is a CondaInstallError (by shape, so it works across bundle copies). */
export function isCondaInstallError(e: unknown): e is CondaInstallError {
  return hasErrorShape(e, "CondaInstallError");
}

export { preview } from "@mlenv/core";

/** Remove user:password@ from a URL before it reaches a message. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)[^/@\s]*@/i, "$1***@");
}
