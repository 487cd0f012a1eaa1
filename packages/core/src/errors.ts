/** Error codes of @mlenv/core. Recognise errors by `code`, not by `instanceof`. */
export const CoreErrorCode = {
  SPEC_INVALID: "E_SPEC_INVALID",
  YAML_SYNTAX: "E_YAML_SYNTAX",
  JSON_SYNTAX: "E_JSON_SYNTAX",
  FILE_UNSUPPORTED: "E_FILE_UNSUPPORTED",
  FOLDER_INVALID: "E_FOLDER_INVALID",
  CANONICAL_JSON: "E_CANONICAL_JSON",
  RENDER_REFUSED: "E_RENDER_REFUSED",
  LOCK_INVALID: "E_LOCK_INVALID",
} as const;

export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

/** One located problem found while parsing or validating a definition. */
export interface DefinitionIssue {
  code: string;
  severity: "error" | "warning";
  message: string;
  /** JSON path into the definition, e.g. `python.condaDependencies.dependencies[3]`. */
  path: string;
  file?: string;
  line?: number;
  column?: number;
}

export interface CoreErrorOptions {
  cause?: unknown;
  file?: string;
  line?: number;
  issues?: DefinitionIssue[];
}

/** The serialised form of a {@link CodedError}: its code and message, plus what the class adds. */
export type CodedErrorJSON = { code: string; message: string } & Record<string, unknown>;

/**
 * The base of every package's domain errors: a string `code` from the domain's `as const` table,
 * a message, and an optional `cause`. A subclass sets `name` and adds its own fields; `toJSON()`
 * is the sanitised form (no stack, no cause) that a subclass extends or replaces.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  toJSON(): CodedErrorJSON {
    return { name: this.name, code: this.code, message: this.message };
  }
}

/**
 * True when `e` looks like an error of class `name` carrying a string code (checked by shape, so
 * it works across bundle copies); each domain's `isXError` is this with its class name.
 */
export function hasErrorShape(e: unknown, name: string): e is { name: string; code: string } {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as { name?: unknown }).name === name &&
    typeof (e as { code?: unknown }).code === "string"
  );
}

/** Base class of every error thrown by @mlenv/core. */
export class CoreError extends CodedError<CoreErrorCode> {
  override readonly name = "CoreError";
  readonly file: string | undefined;
  readonly line: number | undefined;
  /** Located problems behind this error (parse and schema errors carry one or more). */
  readonly issues: DefinitionIssue[];

  constructor(code: CoreErrorCode, message: string, options: CoreErrorOptions = {}) {
    super(code, message, options);
    this.file = options.file;
    this.line = options.line;
    this.issues = options.issues ?? [];
  }

  /** A sanitised, serialisable form (no stack). */
  override toJSON(): { name: string; code: string; message: string; issues: DefinitionIssue[] } {
    return { name: this.name, code: this.code, message: this.message, issues: this.issues };
  }
}

/** True when `e` is a CoreError (checked by shape, so it works across bundle copies). */
export function isCoreError(e: unknown): e is CoreError {
  return hasErrorShape(e, "CoreError");
}

/** Cut user input for inclusion in a message. */
export function preview(value: unknown, max = 200): string {
  let s: string;
  try {
    s = typeof value === "string" ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    s = String(value);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Format an issue as `file:line: severity code: message (at path)`. */
export function formatIssue(issue: DefinitionIssue): string {
  const where = issue.file ? `${issue.file}${issue.line ? `:${issue.line}` : ""}: ` : "";
  return `${where}${issue.severity} ${issue.code}: ${issue.message}${issue.path ? ` (at ${issue.path})` : ""}`;
}
