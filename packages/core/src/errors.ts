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

/** Base class of every error thrown by @mlenv/core. */
export class CoreError extends Error {
  override readonly name = "CoreError";
  readonly code: CoreErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  /** Located problems behind this error (parse and schema errors carry one or more). */
  readonly issues: DefinitionIssue[];

  constructor(code: CoreErrorCode, message: string, options: CoreErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.line = options.line;
    this.issues = options.issues ?? [];
  }

  /** A sanitised, serialisable form (no stack). */
  toJSON(): { name: string; code: string; message: string; issues: DefinitionIssue[] } {
    return { name: this.name, code: this.code, message: this.message, issues: this.issues };
  }
}

/** True when `e` is a CoreError (checked by shape, so it works across bundle copies). */
export function isCoreError(e: unknown): e is CoreError {
  return (
    typeof e === "object" &&
    e !== null &&
    (e as { name?: unknown }).name === "CoreError" &&
    typeof (e as { code?: unknown }).code === "string"
  );
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
