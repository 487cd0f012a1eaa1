import {
  type DefinitionIssue,
  definitionHash,
  type EnvironmentDefinition,
  isCoreError,
  loadDefinitionFile,
  parseDefinition,
  toReferenceJson,
  validateDefinition,
} from "@mlenv/core";

export type SourceFormat = "auto" | "yaml" | "requirements" | "json";

/** File names core's loader understands, per format. */
const FILE_NAMES: Record<Exclude<SourceFormat, "auto">, string> = {
  yaml: "environment.yml",
  requirements: "requirements.txt",
  json: "environment.json",
};

export interface SourceInput {
  format: SourceFormat;
  text: string;
  /** Overrides the name the file gives (required for requirements.txt). */
  name?: string;
  description?: string;
  /** `key=value, other` */
  tags?: string;
}

export interface Analysis {
  /** The format used (auto resolved). */
  format: Exclude<SourceFormat, "auto">;
  fileName: string;
  /** Errors and warnings, located (line) where core knows the line. */
  issues: DefinitionIssue[];
  /** The definition to register (core's JSON form), null when it does not parse. */
  definition: Record<string, unknown> | null;
  /** core's definitionHash, as the server will compute it; null when it does not parse. */
  hash: string | null;
}

/** Guess a pasted text's format: JSON object, YAML mapping, else a requirements file. */
export function detectFormat(text: string): Exclude<SourceFormat, "auto"> {
  const t = text.trimStart();
  if (t.startsWith("{")) return "json";
  const firstLine = t.split(/\r?\n/).find((l) => l.trim() && !l.trim().startsWith("#")) ?? "";
  return /^[A-Za-z_][\w-]*\s*:(\s|$)/.test(firstLine) ? "yaml" : "requirements";
}

/** The format of an uploaded file, from its name. */
export function formatOfFile(fileName: string): Exclude<SourceFormat, "auto"> | null {
  const n = fileName.toLowerCase();
  if (n.endsWith(".json")) return "json";
  if (n.endsWith(".yml") || n.endsWith(".yaml")) return "yaml";
  if (n.endsWith(".txt")) return "requirements";
  return null;
}

/** Parse `key=value, flag` into tags; a bare key has an empty value. */
export function parseTags(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(",")) {
    const p = part.trim();
    if (!p) continue;
    const i = p.indexOf("=");
    if (i < 0) out[p] = "";
    else out[p.slice(0, i).trim()] = p.slice(i + 1).trim();
  }
  return out;
}

function issuesOf(e: unknown, fileName: string): DefinitionIssue[] {
  if (isCoreError(e)) {
    if (e.issues.length > 0) return e.issues;
    return [
      {
        code: e.code,
        severity: "error",
        message: e.message,
        path: "",
        file: e.file ?? fileName,
        ...(e.line !== undefined ? { line: e.line } : {}),
      },
    ];
  }
  return [
    {
      code: "E_UNEXPECTED",
      severity: "error",
      message: e instanceof Error ? e.message : String(e),
      path: "",
    },
  ];
}

/**
 * Load, validate and hash a pasted or uploaded file in the browser with core, exactly as the
 * server will: the definition sent on register is `definition`, and the server's definitionHash
 * of it equals `hash`.
 */
export function analyseSource(input: SourceInput): Analysis {
  const format = input.format === "auto" ? detectFormat(input.text) : input.format;
  const fileName = FILE_NAMES[format];
  const name = input.name?.trim() || undefined;
  let loaded: ReturnType<typeof loadDefinitionFile>;
  try {
    loaded = loadDefinitionFile(fileName, input.text, name ? { name } : {});
  } catch (e) {
    return { format, fileName, issues: issuesOf(e, fileName), definition: null, hash: null };
  }
  const json = toReferenceJson(loaded.definition);
  if (name) json.name = name;
  const description = input.description?.trim();
  if (description) json.description = description;
  const tags = parseTags(input.tags ?? "");
  if (Object.keys(tags).length > 0) json.tags = { ...(json.tags as Record<string, string>), ...tags };
  let def: EnvironmentDefinition;
  try {
    def = parseDefinition(json);
  } catch (e) {
    return {
      format,
      fileName,
      issues: [...loaded.warnings, ...issuesOf(e, fileName)],
      definition: null,
      hash: null,
    };
  }
  const issues = [...loaded.warnings, ...validateDefinition(def, { locations: loaded.locations })];
  issues.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return { format, fileName, issues, definition: json, hash: definitionHash(def) };
}
