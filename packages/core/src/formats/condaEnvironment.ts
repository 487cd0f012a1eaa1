import { stringify } from "yaml";
import { CoreError, CoreErrorCode, preview } from "../errors";
import { parseWithLocations, type SourceLocations } from "../internal/sourceMap";
import { type CondaEnvironment, CondaEnvironmentSchema, zodIssues } from "../spec/definition";

export interface ParsedCondaEnvironment {
  environment: CondaEnvironment;
  /** JSON path (relative to the document, e.g. `dependencies[3]`) to source line. */
  locations: SourceLocations;
}

/**
 * Parse a conda environment.yml (channels, dependencies with a nested `pip:` block, variables,
 * prefix, name). Errors carry file:line. Unknown keys are kept.
 */
export function parseCondaEnvironment(
  text: string,
  options: { file?: string; pathPrefix?: (string | number)[] } = {},
): ParsedCondaEnvironment {
  const file = options.file ?? "environment.yml";
  const { value, locations } = parseWithLocations(text, {
    file,
    ...(options.pathPrefix ? { pathPrefix: options.pathPrefix } : {}),
  });
  const doc = value ?? {};
  const result = CondaEnvironmentSchema.safeParse(doc);
  if (!result.success) {
    const issues = zodIssues(
      result.error,
      { file, locate: (p) => locations[p] ?? { file } },
      options.pathPrefix ?? [],
    );
    const first = issues[0]!;
    throw new CoreError(
      CoreErrorCode.SPEC_INVALID,
      `${file}${first.line ? `:${first.line}` : ""}: ${first.path}: ${first.message}. Expected a conda ` +
        `environment document, e.g. "channels: [conda-forge]\\ndependencies: [python=3.11, {pip: [numpy]}]"; ` +
        `received ${preview(doc)}`,
      { file, ...(first.line ? { line: first.line } : {}), issues },
    );
  }
  return { environment: result.data, locations };
}

/** Render a conda environment document as YAML (name, channels, dependencies, variables, prefix first). */
export function renderCondaEnvironment(env: CondaEnvironment): string {
  const ordered: Record<string, unknown> = {};
  for (const key of ["name", "channels", "dependencies", "variables", "prefix"]) {
    if (env[key] !== undefined) ordered[key] = env[key];
  }
  for (const [key, value] of Object.entries(env)) {
    if (!(key in ordered) && value !== undefined) ordered[key] = value;
  }
  return stringify(ordered, { indent: 2, lineWidth: 0 });
}

/** The conda dependency strings of a document (pip blocks excluded). */
export function condaPackages(env: CondaEnvironment): string[] {
  return (env.dependencies ?? []).filter((d): d is string => typeof d === "string");
}

/** Every pip line of a document's pip blocks, in order. */
export function pipEntries(env: CondaEnvironment): string[] {
  const out: string[] = [];
  for (const d of env.dependencies ?? []) if (typeof d !== "string") out.push(...d.pip);
  return out;
}
