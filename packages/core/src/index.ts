export { type CoreConfig, defaultCoreConfig } from "./config";
export {
  type DefinitionDiff,
  diffDefinitions,
  type EnvVarChange,
  type FieldChange,
  formatDiff,
  type PackageChange,
} from "./diff/diff";
export {
  CoreError,
  CoreErrorCode,
  type CoreErrorOptions,
  type DefinitionIssue,
  formatIssue,
  isCoreError,
} from "./errors";
export {
  condaPackages,
  type ParsedCondaEnvironment,
  parseCondaEnvironment,
  pipEntries,
  renderCondaEnvironment,
} from "./formats/condaEnvironment";
export {
  definitionFromCondaEnvironment,
  definitionFromRequirements,
  FolderFiles,
  type LoadedDefinition,
  type LoadOptions,
  loadDefinitionFile,
  loadDefinitionFolder,
  saveDefinitionFolder,
  unknownFieldWarnings,
} from "./formats/folder";
export { requirementLines } from "./formats/requirements";
export { canonicalJson, type JsonValue } from "./hash/canonicalJson";
export { definitionHash, HASH_SCHEME, hashJson, imageKey } from "./hash/hash";
export {
  cudaPackages,
  definitionHashInput,
  type ImageKeyOptions,
  imageKeyInputs,
  isPipOption,
  type NormalizedCondaEnvironment,
  normalizeCondaEnvironment,
  normalizeCondaSpec,
  normalizePipName,
  normalizePipOption,
  normalizePipRequirement,
  resolveBaseImage,
} from "./hash/normalize";
export type { SourceLocation, SourceLocations } from "./internal/sourceMap";
export {
  LOCK_VERSION,
  type Lock,
  type LockedCondaPackage,
  LockedCondaPackageSchema,
  type LockedPipPackage,
  LockedPipPackageSchema,
  type LockedPlatform,
  LockedPlatformSchema,
  LockSchema,
  lockImageKeyInput,
  parseLock,
  serializeLock,
  sortLock,
  validateLock,
} from "./lock/lock";
export { renderCondaExplicit, renderPipRequirements } from "./lock/render";
export {
  CondaVersion,
  type CondaVersionPart,
  type ContainsOptions,
  canonicalizeName,
  canonicalizeVersion,
  compareCondaVersionsSlow,
  compareVersions,
  isPackagingError,
  isValidName,
  MARKER_VARIABLES,
  Marker,
  type MarkerComparison,
  type MarkerContext,
  type MarkerEnvironment,
  type MarkerList,
  type MarkerOp,
  type MarkerValue,
  PackagingError,
  PackagingErrorCode,
  type PackagingErrorOptions,
  type PreLabel,
  Requirement,
  Specifier,
  type SpecifierOperator,
  SpecifierSet,
  sortCondaVersions,
  sortVersions,
  Version,
  type VersionParts,
  VersionSpec,
} from "./packaging/index";
export {
  type DockerBuild,
  ImageLabels,
  type RenderLock,
  type RenderOptions,
  renderDockerBuild,
} from "./render/dockerfile";
export {
  type CondaEnvironment,
  CondaEnvironmentSchema,
  createDefinition,
  defaultCondaEnvironment,
  type EnvironmentDefinition,
  type EnvironmentDefinitionInput,
  EnvironmentDefinitionSchema,
  type ParseDefinitionOptions,
  type PipBlock,
  parseDefinition,
  type ReferenceJsonOptions,
  toReferenceJson,
} from "./spec/definition";
export { definitionJsonSchema, definitionJsonSchemaText } from "./spec/jsonSchema";
export {
  assertValidDefinition,
  MAX_DOCKERFILE_BYTES,
  RESERVED_NAME_PREFIX,
  unsafeReason,
  type ValidateOptions,
  ValidationCode,
  validateDefinition,
} from "./validate/validate";
