import { CodedError, hasErrorShape } from "../errors";

/** Error codes of the packaging semantics (PEP 440/508, conda, pip requirement files). */
export const PackagingErrorCode = {
  VERSION_INVALID: "E_VERSION_INVALID",
  SPECIFIER_INVALID: "E_SPECIFIER_INVALID",
  REQUIREMENT_INVALID: "E_REQUIREMENT_INVALID",
  MARKER_INVALID: "E_MARKER_INVALID",
  MARKER_UNDEFINED_NAME: "E_MARKER_UNDEFINED_NAME",
  MARKER_UNDEFINED_COMPARISON: "E_MARKER_UNDEFINED_COMPARISON",
  CONDA_VERSION_INVALID: "E_CONDA_VERSION_INVALID",
  CONDA_VERSION_SPEC_INVALID: "E_CONDA_VERSION_SPEC_INVALID",
  MATCHSPEC_INVALID: "E_MATCHSPEC_INVALID",
  REQUIREMENTS_FILE_INVALID: "E_REQUIREMENTS_FILE_INVALID",
  PRERELEASE_CONFLICT: "E_PRERELEASE_CONFLICT",
} as const;

export type PackagingErrorCode = (typeof PackagingErrorCode)[keyof typeof PackagingErrorCode];

export interface PackagingErrorOptions {
  cause?: unknown;
  file?: string;
  line?: number;
}

/** Base class of every packaging-semantics error. Recognise by `code`. */
export class PackagingError extends CodedError<PackagingErrorCode> {
  override readonly name = "PackagingError";
  readonly file: string | undefined;
  readonly line: number | undefined;

  constructor(code: PackagingErrorCode, message: string, options: PackagingErrorOptions = {}) {
    super(code, message, options);
    this.file = options.file;
    this.line = options.line;
  }

  override toJSON(): { name: string; code: string; message: string; file?: string; line?: number } {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      ...(this.file === undefined ? {} : { file: this.file }),
      ...(this.line === undefined ? {} : { line: this.line }),
    };
  }
}

/** True when `e` is a PackagingError (checked by shape, so it works across bundle copies). */
export function isPackagingError(e: unknown): e is PackagingError {
  return hasErrorShape(e, "PackagingError");
}

/** Cut a received value for an error message (200 chars max, JSON-quoted). */
export function received(s: string): string {
  return JSON.stringify(s.length > 200 ? `${s.slice(0, 200)}…` : s);
}
