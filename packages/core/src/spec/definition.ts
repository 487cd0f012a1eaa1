import * as z from "zod";
import { type CoreConfig, defaultCoreConfig } from "../config";
import { CoreError, CoreErrorCode, type DefinitionIssue, preview } from "../errors";
import { formatPath } from "../internal/path";

/** A pip block inside conda `dependencies`: `- pip: [ ... ]`. */
export const PipBlockSchema = z.looseObject({
  pip: z
    .array(z.string())
    .nullable()
    .transform((v) => v ?? []),
});
export type PipBlock = z.infer<typeof PipBlockSchema>;

/** A conda environment.yml document (channels, dependencies, nested pip block, variables, prefix). */
export const CondaEnvironmentSchema = z.looseObject({
  name: z.string().nullable().optional(),
  channels: z.array(z.string()).optional(),
  dependencies: z.array(z.union([z.string(), PipBlockSchema])).optional(),
  variables: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  prefix: z.string().nullable().optional(),
});
export type CondaEnvironment = z.infer<typeof CondaEnvironmentSchema>;

/** The default conda document of a new definition: python, pip and a pip block, default channels. */
export function defaultCondaEnvironment(config: CoreConfig = defaultCoreConfig): CondaEnvironment {
  return {
    name: "project_environment",
    dependencies: [`python=${config.pythonVersion}`, `pip=${config.pipVersion}`, { pip: [] }],
    channels: [...config.channels],
  };
}

const nstr = z.string().nullable();

const RegistrySchema = z.looseObject({
  address: nstr.default(null),
  username: nstr.default(null),
  password: nstr.default(null),
});

const SparkPackageSchema = z.object({
  group: z.string(),
  artifact: z.string(),
  version: z.string(),
});

const SparkRepositorySchema = z.string();

const RSchema = z.object({
  rVersion: nstr.default(null),
  userManaged: z.boolean().default(false),
  rscriptPath: nstr.default(null),
  snapshotDate: nstr.default(null),
  cranPackages: z
    .array(z.looseObject({ name: z.string(), version: nstr.optional(), repository: nstr.optional() }))
    .default([]),
  githubPackages: z.array(z.looseObject({ repository: z.string(), authToken: nstr.optional() })).default([]),
  customUrlPackages: z.array(z.string()).default([]),
  bioConductorPackages: z.array(z.string()).default([]),
});

const looseLib = z.looseObject({});

function buildSchema(config: CoreConfig) {
  const PythonSchema = z.object({
    userManagedDependencies: z.boolean().default(false),
    interpreterPath: z.string().default("python"),
    condaDependencies: CondaEnvironmentSchema.default(() => defaultCondaEnvironment(config)),
    condaDependenciesFile: nstr.default(null),
    baseCondaEnvironment: nstr.default(null),
  });
  const DockerSchema = z.object({
    enabled: z.boolean().default(false),
    baseImage: nstr.default(config.baseImages.cpu),
    baseDockerfile: nstr.default(null),
    baseImageRegistry: RegistrySchema.default(() => ({ address: null, username: null, password: null })),
    sharedVolumes: z.boolean().default(true),
    shmSize: nstr.default("2g"),
    arguments: z.array(z.string()).default([]),
    platform: z
      .object({ os: z.string().default("Linux"), architecture: z.string().default("amd64") })
      .default(() => ({ os: "Linux", architecture: "amd64" })),
    gpuSupport: z
      .boolean()
      .default(false)
      .describe("Ask for the GPU default base image (the reference's deprecated docker.gpuSupport)."),
    cudaVersion: nstr
      .default(null)
      .describe(
        "mlenv addition: the CUDA driver version (e.g. 12.4) a GPU definition's image is locked for, as the __cuda virtual package; default: the version in the GPU base image's tag.",
      ),
    systemPackages: z
      .array(z.string())
      .default([])
      .describe("mlenv addition: Debian/Ubuntu packages installed with apt-get before conda (e.g. libgl1)."),
  });
  const SparkSchema = z.object({
    repositories: z.array(SparkRepositorySchema).default([]),
    packages: z.array(SparkPackageSchema).default([]),
    precachePackages: z.boolean().default(true),
  });
  const DatabricksSchema = z.object({
    mavenLibraries: z.array(looseLib).default([]),
    pypiLibraries: z.array(looseLib).default([]),
    rcranLibraries: z.array(looseLib).default([]),
    jarLibraries: z.array(looseLib).default([]),
    eggLibraries: z.array(looseLib).default([]),
  });
  return z.object({
    $schema: z.string().optional().describe("Optional JSON Schema reference; ignored by mlenv."),
    name: z.string().describe("Environment name: 1-255 characters [A-Za-z0-9._-], starting alphanumeric."),
    version: nstr.default(null).describe("Registry version; null until registered."),
    description: nstr.default(null).describe("mlenv addition: free text, not hashed."),
    tags: z
      .record(z.string(), z.string())
      .default({})
      .describe("mlenv addition: string-to-string map, not hashed."),
    platforms: z
      .array(z.string())
      .min(1)
      .default(() => [...config.platforms])
      .describe("mlenv addition: conda platforms (subdirs) the environment targets."),
    environmentVariables: z.record(z.string(), z.string()).default({}),
    inferencingStackVersion: nstr.default(null),
    python: PythonSchema.default(() => PythonSchema.parse({})),
    docker: DockerSchema.default(() => DockerSchema.parse({})),
    spark: SparkSchema.default(() => SparkSchema.parse({})),
    databricks: DatabricksSchema.default(() => DatabricksSchema.parse({})),
    r: RSchema.nullable().default(null),
  });
}

/** The environment definition schema with the default configuration. */
export const EnvironmentDefinitionSchema = buildSchema(defaultCoreConfig);

/** A fully-defaulted environment definition (the reference's camelCase shape plus mlenv additions). */
export type EnvironmentDefinition = z.output<typeof EnvironmentDefinitionSchema>;
/** What a user may write: every field except `name` is optional. */
export type EnvironmentDefinitionInput = z.input<typeof EnvironmentDefinitionSchema>;

const schemaCache = new WeakMap<CoreConfig, ReturnType<typeof buildSchema>>();
function schemaFor(config: CoreConfig): ReturnType<typeof buildSchema> {
  if (config === defaultCoreConfig) return EnvironmentDefinitionSchema;
  let s = schemaCache.get(config);
  if (!s) {
    s = buildSchema(config);
    schemaCache.set(config, s);
  }
  return s;
}

export interface ParseDefinitionOptions {
  config?: CoreConfig;
  /** File name used in error messages. */
  file?: string;
  /** Maps JSON paths to source lines, to locate schema errors. */
  locate?: (path: string) => { file?: string; line?: number; column?: number } | undefined;
}

/** Turn zod issues into located DefinitionIssues. */
export function zodIssues(
  error: z.ZodError,
  options: ParseDefinitionOptions = {},
  prefix: (string | number)[] = [],
): DefinitionIssue[] {
  return error.issues.map((iss) => {
    const path = formatPath([...prefix, ...(iss.path as (string | number)[])]);
    const loc = options.locate?.(path) ?? (options.file ? { file: options.file } : undefined);
    return {
      code: CoreErrorCode.SPEC_INVALID,
      severity: "error" as const,
      message: iss.message,
      path,
      ...loc,
    };
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Parse a definition (already decoded from JSON/YAML) and apply every default of the reference.
 * When `docker.baseDockerfile` is given and `docker.baseImage` is absent, the base image is null.
 * Throws CoreError E_SPEC_INVALID with located issues.
 */
export function parseDefinition(json: unknown, options: ParseDefinitionOptions = {}): EnvironmentDefinition {
  const config = options.config ?? defaultCoreConfig;
  let input = json;
  if (isRecord(json) && isRecord(json.docker)) {
    const docker = json.docker;
    if (typeof docker.baseDockerfile === "string" && !("baseImage" in docker)) {
      input = { ...json, docker: { ...docker, baseImage: null } };
    }
  }
  const result = schemaFor(config).safeParse(input);
  if (!result.success) {
    const issues = zodIssues(result.error, options);
    const first = issues[0];
    throw new CoreError(
      CoreErrorCode.SPEC_INVALID,
      `Invalid environment definition: ${issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}. ` +
        `Expected the azureml_environment.json shape, e.g. {"name":"my-env","python":{"condaDependencies":{...}}}; ` +
        `received ${preview(json)}`,
      { issues, ...(first?.file ? { file: first.file } : {}), ...(first?.line ? { line: first.line } : {}) },
    );
  }
  return result.data as EnvironmentDefinition;
}

/** A new definition with every default (the reference's `Environment(name)`). */
export function createDefinition(
  name: string,
  config: CoreConfig = defaultCoreConfig,
): EnvironmentDefinition {
  return parseDefinition({ name }, { config });
}

export interface ReferenceJsonOptions {
  /** Leave out mlenv's additions (description, tags, platforms) to write only the reference's fields. */
  referenceOnly?: boolean;
}

/**
 * The reference camelCase JSON object of a definition, keys in the reference's order
 * (mlenv additions last unless `referenceOnly`).
 */
export function toReferenceJson(
  def: EnvironmentDefinition,
  options: ReferenceJsonOptions = {},
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    name: def.name,
    version: def.version,
    environmentVariables: { ...def.environmentVariables },
    python: {
      userManagedDependencies: def.python.userManagedDependencies,
      interpreterPath: def.python.interpreterPath,
      condaDependenciesFile: def.python.condaDependenciesFile,
      baseCondaEnvironment: def.python.baseCondaEnvironment,
      condaDependencies: structuredCloneJson(def.python.condaDependencies),
    },
    docker: {
      enabled: def.docker.enabled,
      baseImage: def.docker.baseImage,
      platform: { ...def.docker.platform },
      baseDockerfile: def.docker.baseDockerfile,
      sharedVolumes: def.docker.sharedVolumes,
      shmSize: def.docker.shmSize,
      arguments: [...def.docker.arguments],
      baseImageRegistry: { ...def.docker.baseImageRegistry },
      gpuSupport: def.docker.gpuSupport,
      ...(options.referenceOnly ? {} : { systemPackages: [...def.docker.systemPackages] }),
      ...(options.referenceOnly || def.docker.cudaVersion === null
        ? {}
        : { cudaVersion: def.docker.cudaVersion }),
    },
    inferencingStackVersion: def.inferencingStackVersion,
    spark: structuredCloneJson(def.spark),
    databricks: structuredCloneJson(def.databricks),
    r: structuredCloneJson(def.r),
  };
  if (!options.referenceOnly) {
    out.description = def.description;
    out.tags = { ...def.tags };
    out.platforms = [...def.platforms];
  }
  return out;
}

function structuredCloneJson<T>(v: T): T {
  return v === null || v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}
