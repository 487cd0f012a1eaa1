import { type CoreConfig, defaultCoreConfig } from "../config";
import { CoreError, CoreErrorCode, type DefinitionIssue, preview } from "../errors";
import { formatPath, locator, type SourceLocations } from "../internal/path";
import { parseWithLocations } from "../internal/sourceMap";
import { isPackagingError } from "../packaging/errors";
import {
  parseRequirementsFile,
  type RequirementLineOptions,
  type RequirementsLoader,
} from "../packaging/requirementsFile";
import {
  type CondaEnvironment,
  type EnvironmentDefinition,
  parseDefinition,
  toReferenceJson,
} from "../spec/definition";
import { condaPackages, parseCondaEnvironment, renderCondaEnvironment } from "./condaEnvironment";

/** File names of the on-disk folder layout. */
export const FolderFiles = {
  definition: "azureml_environment.json",
  conda: "conda_dependencies.yml",
  dockerfile: "BaseDockerfile",
} as const;

export interface LoadedDefinition {
  definition: EnvironmentDefinition;
  /** JSON path of the definition to the file and line it came from. */
  locations: SourceLocations;
  /** Non-fatal notes made while loading (e.g. a default python added). */
  warnings: DefinitionIssue[];
}

export interface LoadOptions {
  config?: CoreConfig;
  /** Name to use when the files name none (e.g. the folder or file name). */
  name?: string;
  /** Prefix for file names in locations (e.g. the folder path). */
  filePrefix?: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

let knownKeys: Record<string, Set<string>> | undefined;

/** Warnings for keys the definition model does not know (they are dropped, e.g. a misspelt field). */
export function unknownFieldWarnings(raw: unknown, locations: SourceLocations = {}): DefinitionIssue[] {
  if (!knownKeys) {
    const ref = toReferenceJson(parseDefinition({ name: "x", r: {} }));
    knownKeys = { "": new Set([...Object.keys(ref), "$schema"]) };
    for (const section of ["python", "docker", "spark", "databricks", "r"]) {
      knownKeys[section] = new Set(Object.keys(ref[section] as Record<string, unknown>));
    }
  }
  const out: DefinitionIssue[] = [];
  const check = (value: unknown, section: string) => {
    if (!isRecord(value)) return;
    const known = knownKeys![section]!;
    for (const key of Object.keys(value)) {
      if (known.has(key)) continue;
      const path = formatPath(section ? [section, key] : [key]);
      out.push({
        code: "W_UNKNOWN_FIELD",
        severity: "warning",
        message: `unknown field ${preview(key, 80)} is ignored; expected one of ${[...known].join(", ")}`,
        path,
        ...locations[path],
      });
    }
  };
  check(raw, "");
  if (isRecord(raw))
    for (const section of ["python", "docker", "spark", "databricks", "r"]) check(raw[section], section);
  return out;
}

/**
 * Load a definition folder: `azureml_environment.json`, with the conda document in
 * `conda_dependencies.yml` and a custom Dockerfile in `BaseDockerfile` (each optional).
 * `files` maps file name to text; core does no I/O.
 */
export function loadDefinitionFolder(
  files: Record<string, string>,
  options: LoadOptions = {},
): LoadedDefinition {
  const prefix = options.filePrefix ?? "";
  const jsonText = files[FolderFiles.definition];
  if (jsonText === undefined) {
    throw new CoreError(
      CoreErrorCode.FOLDER_INVALID,
      `Expected a definition folder containing ${FolderFiles.definition} (e.g. made by "mlenv env scaffold"); ` +
        `received files ${preview(Object.keys(files))}`,
    );
  }
  const jsonFile = prefix + FolderFiles.definition;
  const parsed = parseWithLocations(jsonText, { file: jsonFile, kind: "json" });
  const locations: SourceLocations = { ...parsed.locations };
  if (!isRecord(parsed.value)) {
    throw new CoreError(
      CoreErrorCode.SPEC_INVALID,
      `${jsonFile}:1: expected a JSON object like {"name":"my-env"}; received ${preview(parsed.value)}`,
      { file: jsonFile, line: 1 },
    );
  }
  const raw: Record<string, unknown> = { ...parsed.value };
  if (raw.name === undefined && options.name !== undefined) raw.name = options.name;
  const python: Record<string, unknown> = isRecord(raw.python) ? { ...raw.python } : {};
  const docker: Record<string, unknown> = isRecord(raw.docker) ? { ...raw.docker } : {};

  const condaText = files[FolderFiles.conda];
  if (condaText !== undefined) {
    const condaFile = prefix + FolderFiles.conda;
    if (python.condaDependencies != null) {
      throw new CoreError(
        CoreErrorCode.FOLDER_INVALID,
        `${jsonFile}: python.condaDependencies is set inline and ${FolderFiles.conda} exists; expected exactly ` +
          `one of them (the folder layout keeps the conda document in ${FolderFiles.conda})`,
        {
          file: jsonFile,
          ...(locations["python.condaDependencies"]?.line
            ? { line: locations["python.condaDependencies"].line }
            : {}),
        },
      );
    }
    const conda = parseCondaEnvironment(condaText, {
      file: condaFile,
      pathPrefix: ["python", "condaDependencies"],
    });
    Object.assign(locations, conda.locations);
    python.condaDependencies = conda.environment;
  } else if (python.condaDependencies === null) {
    delete python.condaDependencies;
  }

  const dockerfileText = files[FolderFiles.dockerfile];
  if (dockerfileText !== undefined) {
    if (typeof docker.baseDockerfile === "string") {
      throw new CoreError(
        CoreErrorCode.FOLDER_INVALID,
        `${jsonFile}: docker.baseDockerfile is set inline and ${FolderFiles.dockerfile} exists; expected exactly one`,
        { file: jsonFile },
      );
    }
    docker.baseDockerfile = dockerfileText;
    if (!("baseImage" in docker)) docker.baseImage = null;
    locations["docker.baseDockerfile"] = { file: prefix + FolderFiles.dockerfile, line: 1 };
  }
  raw.python = python;
  raw.docker = docker;
  const definition = parseDefinition(raw, {
    ...(options.config ? { config: options.config } : {}),
    file: jsonFile,
    locate: locator(locations),
  });
  return { definition, locations, warnings: unknownFieldWarnings(parsed.value, locations) };
}

/**
 * Save a definition in the folder layout. Loading the result with loadDefinitionFolder gives back
 * an equal definition.
 */
export function saveDefinitionFolder(def: EnvironmentDefinition): Record<string, string> {
  const json = toReferenceJson(def);
  const python = json.python as Record<string, unknown>;
  const docker = json.docker as Record<string, unknown>;
  const out: Record<string, string> = {};
  out[FolderFiles.conda] = renderCondaEnvironment(def.python.condaDependencies);
  python.condaDependencies = null;
  if (def.docker.baseDockerfile !== null) {
    out[FolderFiles.dockerfile] = def.docker.baseDockerfile;
    docker.baseDockerfile = null;
  }
  out[FolderFiles.definition] = `${JSON.stringify(json, null, 4)}\n`;
  return out;
}

function hasPython(env: CondaEnvironment): boolean {
  return condaPackages(env).some((d) => /^\s*(?:[^:\s]+::)?python(?:$|[\s=<>!~[])/i.test(d));
}

function safeName(candidate: string | undefined | null): string | undefined {
  if (!candidate) return undefined;
  const base = candidate.replace(/^.*[\\/]/, "").replace(/\.[^.]*$/, "");
  const cleaned = base.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return cleaned.slice(0, 255) || undefined;
}

/**
 * A definition from a conda environment document. The reference adds the default python (with a
 * warning) when the document names none.
 */
export function definitionFromCondaEnvironment(
  env: CondaEnvironment,
  options: LoadOptions & { file?: string; locations?: SourceLocations } = {},
): LoadedDefinition {
  const config = options.config ?? defaultCoreConfig;
  const warnings: DefinitionIssue[] = [];
  let environment = env;
  if (!hasPython(env)) {
    // Appended, so the located indexes of the written dependencies stay valid.
    environment = { ...env, dependencies: [...(env.dependencies ?? []), `python=${config.pythonVersion}`] };
    warnings.push({
      code: "W_PYTHON_ADDED",
      severity: "warning",
      message: `the conda document names no python; added python=${config.pythonVersion}`,
      path: "python.condaDependencies.dependencies",
      ...(options.file ? { file: options.file } : {}),
    });
  }
  const name = safeName(env.name) ?? options.name ?? safeName(options.file);
  const definition = parseDefinition(
    { name, python: { condaDependencies: environment } },
    { config, ...(options.file ? { file: options.file } : {}) },
  );
  return { definition, locations: { ...options.locations }, warnings };
}

/** Options of a pip requirements file read into a definition. */
export interface RequirementsReadOptions {
  /** Reads `-r`/`-c` includes (path resolved against the including file); without it they are an error. */
  loader?: RequirementsLoader;
  /** Values for `${VAR}` expansion. */
  env?: Readonly<Record<string, string | undefined>>;
}

function optionLines(o: RequirementLineOptions): string[] {
  const out: string[] = [];
  if (o.no_index) out.push("--no-index");
  if (o.index_url !== undefined) out.push(`--index-url ${o.index_url}`);
  for (const u of o.extra_index_urls ?? []) out.push(`--extra-index-url ${u}`);
  for (const u of o.find_links ?? []) out.push(`--find-links ${u}`);
  for (const h of o.trusted_hosts ?? []) out.push(`--trusted-host ${h}`);
  if (o.pre) out.push("--pre");
  if (o.prefer_binary) out.push("--prefer-binary");
  if (o.require_hashes) out.push("--require-hashes");
  for (const x of o.format_control?.no_binary ?? []) out.push(`--no-binary ${x}`);
  for (const x of o.format_control?.only_binary ?? []) out.push(`--only-binary ${x}`);
  for (const f of o.features_enabled ?? []) out.push(`--use-feature ${f}`);
  return out;
}

/**
 * A definition from a pip requirements file (full pip syntax, via ./packaging's
 * parseRequirementsFile): conda python and pip, and a pip block holding the file's options
 * (index URLs, find-links, ...) and requirements (`-e` kept, `--hash` pins kept). Lines from
 * constraint files (`-c`) cannot be expressed in a conda pip block; they are dropped with a warning.
 */
export function definitionFromRequirements(
  text: string,
  options: LoadOptions & { file?: string; requirements?: RequirementsReadOptions } = {},
): LoadedDefinition {
  const config = options.config ?? defaultCoreConfig;
  const file = options.file ?? "requirements.txt";
  let parsed: ReturnType<typeof parseRequirementsFile>;
  try {
    parsed = parseRequirementsFile(text, {
      file,
      ...(options.requirements?.loader ? { loader: options.requirements.loader } : {}),
      ...(options.requirements?.env ? { env: options.requirements.env } : {}),
    });
  } catch (e) {
    if (!isPackagingError(e)) throw e;
    throw new CoreError(CoreErrorCode.SPEC_INVALID, e.message, {
      cause: e,
      ...(e.file ? { file: e.file } : {}),
      ...(e.line ? { line: e.line } : {}),
      issues: [
        {
          code: e.code,
          severity: "error",
          message: e.message,
          path: "python.condaDependencies.dependencies[2].pip",
          ...(e.file ? { file: e.file } : {}),
          ...(e.line ? { line: e.line } : {}),
        },
      ],
    });
  }
  const pip: string[] = [];
  const where: { file: string; line: number }[] = [];
  const warnings: DefinitionIssue[] = [];
  for (const line of parsed.lines) {
    if (line.constraint) {
      if (line.requirement !== null) {
        warnings.push({
          code: "W_CONSTRAINT_DROPPED",
          severity: "warning",
          message: `constraint ${preview(line.requirement)} cannot be expressed in a conda pip block and is dropped; pin it as a requirement instead`,
          path: "python.condaDependencies.dependencies[2].pip",
          file: line.file,
          line: line.lineno,
        });
      }
      continue;
    }
    if (line.requirement === null) {
      for (const o of optionLines(line.options)) {
        pip.push(o);
        where.push({ file: line.file, line: line.lineno });
      }
      continue;
    }
    let entry = line.isEditable ? `-e ${line.requirement}` : line.requirement;
    for (const [alg, digests] of Object.entries(line.options.hashes ?? {})) {
      for (const d of digests) entry += ` --hash=${alg}:${d}`;
    }
    for (const [k, v] of Object.entries(line.options.config_settings ?? {}))
      entry += ` --config-settings ${k}=${v}`;
    pip.push(entry);
    where.push({ file: line.file, line: line.lineno });
  }
  const name = options.name ?? safeName(options.file) ?? "requirements";
  const definition = parseDefinition(
    {
      name,
      python: {
        condaDependencies: {
          name,
          channels: [...config.channels],
          dependencies: [`python=${config.pythonVersion}`, `pip=${config.pipVersion}`, { pip }],
        },
      },
    },
    { config, file },
  );
  const locations: SourceLocations = {
    "python.condaDependencies.dependencies[2].pip": { file, line: 1 },
  };
  where.forEach((w, j) => {
    locations[`python.condaDependencies.dependencies[2].pip[${j}]`] = w;
  });
  return { definition, locations, warnings };
}

/**
 * Load a single file: `.json`/`.yml`/`.yaml` holding either a whole definition (it has `python`,
 * `docker` or `name` without `dependencies`) or a conda environment document; `.txt` is a pip
 * requirements file.
 */
export function loadDefinitionFile(
  fileName: string,
  text: string,
  options: LoadOptions & { requirements?: RequirementsReadOptions } = {},
): LoadedDefinition {
  const file = (options.filePrefix ?? "") + fileName;
  const lower = fileName.toLowerCase();
  if (lower.endsWith(".txt")) return definitionFromRequirements(text, { ...options, file });
  const isJson = lower.endsWith(".json");
  if (!isJson && !lower.endsWith(".yml") && !lower.endsWith(".yaml")) {
    throw new CoreError(
      CoreErrorCode.FILE_UNSUPPORTED,
      `Expected a .json, .yml, .yaml or requirements .txt file (e.g. environment.yml); received ${preview(fileName)}`,
      { file },
    );
  }
  const parsed = parseWithLocations(text, { file, kind: isJson ? "json" : "yaml" });
  const value = parsed.value;
  const isDefinition =
    isRecord(value) &&
    ("python" in value || "docker" in value || ("name" in value && !("dependencies" in value)));
  if (isDefinition) {
    const raw: Record<string, unknown> = { ...value };
    if (raw.name === undefined && options.name !== undefined) raw.name = options.name;
    const definition = parseDefinition(raw, {
      ...(options.config ? { config: options.config } : {}),
      file,
      locate: locator(parsed.locations),
    });
    return {
      definition,
      locations: parsed.locations,
      warnings: unknownFieldWarnings(value, parsed.locations),
    };
  }
  const conda = parseCondaEnvironment(text, { file, pathPrefix: ["python", "condaDependencies"] });
  return definitionFromCondaEnvironment(conda.environment, {
    ...options,
    file,
    locations: conda.locations,
  });
}
