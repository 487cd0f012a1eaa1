import {
  createDefinition,
  type DefinitionIssue,
  definitionFromCondaEnvironment,
  definitionFromRequirements,
  definitionHash,
  type EnvironmentDefinition,
  imageKey,
  parseCondaEnvironment,
  parseDefinition,
  toReferenceJson,
} from "@mlenv/core";
import { buildEnvironment, type ImageBuild } from "./builds";
import { CondaDependencies } from "./condaDependencies";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import type {
  EnvironmentSummary,
  EnvironmentVersion,
  ListOptions,
  RegisterRequest,
  RegisterResult,
  VersionSelector,
} from "./registry";
import { addPrivatePipWheel } from "./wheels";
import type { Workspace } from "./workspace";

/** The `python` section, with the conda document as an editable {@link CondaDependencies}. */
export interface PythonSection {
  userManagedDependencies: boolean;
  interpreterPath: string;
  condaDependencies: CondaDependencies;
  condaDependenciesFile: string | null;
  baseCondaEnvironment: string | null;
}

/** What the registry knows about a registered environment version. */
export type Registration = Omit<EnvironmentVersion, "definition"> & { created?: boolean };

/** Options of the `from*` constructors that also take Python dependencies. */
export interface DependencySources {
  /** A conda `environment.yml` text. */
  condaSpecification?: string;
  /** A pip `requirements.txt` text. */
  pipRequirements?: string;
}

type DockerSection = EnvironmentDefinition["docker"];

/**
 * An environment definition (the reference's `Environment`): build it locally, edit
 * `python.condaDependencies`, `docker` and `environmentVariables`, then `register` it.
 */
export class Environment {
  name!: string;
  /** Registry version (as the definition stores it); null until registered. */
  version!: string | null;
  description!: string | null;
  tags!: Record<string, string>;
  platforms!: string[];
  environmentVariables!: Record<string, string>;
  inferencingStackVersion!: string | null;
  python!: PythonSection;
  docker!: DockerSection;
  spark!: EnvironmentDefinition["spark"];
  databricks!: EnvironmentDefinition["databricks"];
  r!: EnvironmentDefinition["r"];
  /** Set when this object came from (or was stored in) a registry. */
  registration: Registration | undefined;
  /** Non-fatal notes from loading (e.g. a default python was added). */
  warnings: DefinitionIssue[] = [];

  /** An empty definition with every default. */
  constructor(name: string) {
    this.#assign(createDefinition(checkName(name)));
  }

  /** From a definition JSON value (the reference's `azureml_environment.json` shape). */
  static fromDefinition(json: unknown): Environment {
    const def = parseDefinition(json);
    const env = new Environment(def.name);
    env.#assign(def);
    return env;
  }

  /** A definition converted from another format, named `name`, with the conversion's warnings. */
  static #fromConverted(
    name: string,
    converted: { definition: EnvironmentDefinition; warnings: DefinitionIssue[] },
  ): Environment {
    const env = Environment.fromDefinition({ ...toReferenceJson(converted.definition), name });
    env.warnings = converted.warnings;
    return env;
  }

  /** From a conda `environment.yml` text; adds the default Python (with a warning) if none is named. */
  static fromCondaSpecification(
    name: string,
    yamlText: string,
    options: { file?: string } = {},
  ): Environment {
    const file = options.file ?? "environment.yml";
    const parsed = parseCondaEnvironment(yamlText, { file, pathPrefix: ["python", "condaDependencies"] });
    const loaded = definitionFromCondaEnvironment(parsed.environment, {
      name: checkName(name),
      file,
      locations: parsed.locations,
    });
    return Environment.#fromConverted(name, loaded);
  }

  /** From a pip `requirements.txt` text: conda Python and pip, the requirements as the pip block. */
  static fromPipRequirements(
    name: string,
    requirementsText: string,
    options: { file?: string } = {},
  ): Environment {
    const loaded = definitionFromRequirements(requirementsText, {
      name: checkName(name),
      ...(options.file ? { file: options.file } : {}),
    });
    return Environment.#fromConverted(name, loaded);
  }

  /**
   * From a Dockerfile used as the base stage. Dependencies are user-managed (no conda/pip step)
   * unless a conda or pip specification is also given.
   */
  static fromDockerfile(name: string, dockerfile: string, sources: DependencySources = {}): Environment {
    const env = Environment.#withSources(name, sources);
    env.docker = { ...env.docker, enabled: true, baseImage: null, baseDockerfile: dockerfile };
    env.toDefinition();
    return env;
  }

  /** From an existing image. Dependencies are user-managed unless a conda or pip specification is given. */
  static fromDockerImage(name: string, image: string, sources: DependencySources = {}): Environment {
    const env = Environment.#withSources(name, sources);
    env.docker = { ...env.docker, enabled: true, baseImage: image, baseDockerfile: null };
    env.toDefinition();
    return env;
  }

  static #withSources(name: string, sources: DependencySources): Environment {
    if (sources.condaSpecification !== undefined && sources.pipRequirements !== undefined) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        "Expected a conda specification or pip requirements, not both (put pip packages in the conda document's pip block).",
      );
    }
    if (sources.condaSpecification !== undefined) {
      return Environment.fromCondaSpecification(name, sources.condaSpecification);
    }
    if (sources.pipRequirements !== undefined)
      return Environment.fromPipRequirements(name, sources.pipRequirements);
    const env = new Environment(name);
    env.python.userManagedDependencies = true;
    return env;
  }

  /** From a registry answer (the definition plus registration metadata). */
  static fromRegistered(version: EnvironmentVersion, created?: boolean): Environment {
    if (!version.definition) {
      throw new MlenvError(
        SdkErrorCodes.badResponse,
        `Expected the registry to return a definition for ${preview(version.name)} v${version.version}; it returned none.`,
      );
    }
    const env = Environment.fromDefinition(version.definition);
    const { definition: _omit, ...registration } = version;
    env.registration = created === undefined ? registration : { ...registration, created };
    return env;
  }

  /** The full, validated definition (throws core's E_SPEC_INVALID when a field is wrong). */
  toDefinition(): EnvironmentDefinition {
    const { condaDependencies, ...python } = this.python;
    return parseDefinition({
      name: this.name,
      version: this.version,
      description: this.description,
      tags: this.tags,
      platforms: this.platforms,
      environmentVariables: this.environmentVariables,
      inferencingStackVersion: this.inferencingStackVersion,
      python: { ...python, condaDependencies: condaDependencies.toDocument() },
      docker: this.docker,
      spark: this.spark,
      databricks: this.databricks,
      r: this.r,
    });
  }

  /** The reference's camelCase JSON. */
  toJSON(): Record<string, unknown> {
    return toReferenceJson(this.toDefinition());
  }

  /** Core's `definitionHash` of the current definition (what registry versioning compares). */
  get definitionHash(): string {
    return definitionHash(this.toDefinition());
  }

  /** Core's `imageKey` of the current definition. */
  get imageKey(): string {
    return imageKey(this.toDefinition());
  }

  /** A local copy under a new name, not registered (version null). */
  clone(newName: string): Environment {
    const env = Environment.fromDefinition({ ...this.toJSON(), name: checkName(newName), version: null });
    return env;
  }

  /**
   * Register this definition. An identical definition (same `definitionHash`) returns the existing
   * version (`registration.created === false`); a changed one becomes the next version. With
   * `lock` (the definition's mlenv.lock, a document or YAML text) the version is locked and its
   * image key is computed over the lock's exact artifacts.
   */
  async register(workspace: Workspace, options: { lock?: unknown } = {}): Promise<Environment> {
    const def = this.toDefinition();
    const res: RegisterResult = await workspace.environments.register({
      definition: toReferenceJson({ ...def, version: null }),
      ...(options.lock === undefined ? {} : { lock: options.lock as RegisterRequest["lock"] }),
    });
    return Environment.fromRegistered(res.environment, res.created);
  }

  /**
   * Build the image of what this object defines, on the server (the reference's `build`): the
   * definition is registered first, as the reference does (an unchanged one keeps its version, an
   * edited one becomes the next version, a new name becomes version 1), then that version is built.
   * An object fetched from the registry and left unchanged (e.g. a curated environment) builds
   * its registered version without registering. Afterwards `version` and `registration` name the
   * version built. `await (await env.build(ws)).waitForCompletion({ showOutput: true })`.
   */
  async build(workspace: Workspace): Promise<ImageBuild> {
    const reg = this.registration;
    if (reg && reg.name === this.name && reg.definitionHash === this.definitionHash) {
      return buildEnvironment(workspace, reg.name, { version: reg.version });
    }
    const registered = await this.register(workspace);
    const version = Number(registered.version);
    this.version = registered.version;
    this.registration = registered.registration;
    return buildEnvironment(workspace, registered.name, { version });
  }

  /** The latest version of `name`, or a given version or label. */
  static async get(workspace: Workspace, name: string, selector: VersionSelector = {}): Promise<Environment> {
    return Environment.fromRegistered(await workspace.environments.get(name, selector));
  }

  /**
   * Upload a private wheel to the workspace and return its stable `mlenv+wheel://` reference to
   * put in a pip block (the reference's `Environment.add_private_pip_wheel`). With
   * `options.environment`, the reference also replaces that environment's line for the package.
   */
  static addPrivatePipWheel(
    workspace: Workspace,
    wheel: { filename: string; bytes: Uint8Array },
    options: { environment?: Environment; existOk?: boolean; overwrite?: boolean } = {},
  ): Promise<string> {
    return addPrivatePipWheel(workspace, wheel, options);
  }

  /** The latest version of each environment (every page). */
  static list(
    workspace: Workspace,
    options: Omit<ListOptions, "cursor"> = {},
  ): Promise<EnvironmentSummary[]> {
    return workspace.environments.list(options);
  }

  /** Copy a registered environment (e.g. a curated `mlenv-*` one) to a new name, version 1. */
  static async cloneRegistered(
    workspace: Workspace,
    name: string,
    newName: string,
    selector: VersionSelector = {},
  ): Promise<Environment> {
    const res = await workspace.environments.clone(name, { newName: checkName(newName), ...selector });
    return Environment.fromRegistered(res.environment, res.created);
  }

  #assign(def: EnvironmentDefinition): void {
    const d = structuredClone(def);
    this.name = d.name;
    this.version = d.version;
    this.description = d.description;
    this.tags = d.tags;
    this.platforms = d.platforms;
    this.environmentVariables = d.environmentVariables;
    this.inferencingStackVersion = d.inferencingStackVersion;
    this.python = {
      userManagedDependencies: d.python.userManagedDependencies,
      interpreterPath: d.python.interpreterPath,
      condaDependencies: new CondaDependencies(d.python.condaDependencies),
      condaDependenciesFile: d.python.condaDependenciesFile,
      baseCondaEnvironment: d.python.baseCondaEnvironment,
    };
    this.docker = d.docker;
    this.spark = d.spark;
    this.databricks = d.databricks;
    this.r = d.r;
  }
}

function checkName(name: string): string {
  if (typeof name !== "string" || name.length < 1 || name.length > 255) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected an environment name of 1-255 characters such as "my-env"; received ${preview(name)}`,
    );
  }
  return name;
}
