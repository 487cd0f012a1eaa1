export { type CoreConfig, defaultCoreConfig, type ImageLayout } from "./config";
export {
  type DefinitionDiff,
  diffDefinitions,
  type EnvVarChange,
  type FieldChange,
  formatDiff,
  type PackageChange,
} from "./diff/diff";
export {
  CodedError,
  type CodedErrorJSON,
  CoreError,
  CoreErrorCode,
  type CoreErrorOptions,
  type DefinitionIssue,
  formatIssue,
  hasErrorShape,
  isCoreError,
  preview,
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
  type RequirementsReadOptions,
  saveDefinitionFolder,
  unknownFieldWarnings,
} from "./formats/folder";
export { requirementLines } from "./formats/requirements";
export { canonicalJson, type JsonValue } from "./hash/canonicalJson";
export { definitionHash, HASH_SCHEME, hashJson, imageKey } from "./hash/hash";
export {
  cudaPackages,
  definitionCudaVersion,
  definitionHashInput,
  type ImageKeyOptions,
  imageKeyInputs,
  isPipOption,
  type NormalizedCondaEnvironment,
  normalizeCondaEnvironment,
  normalizeCondaSpec,
  normalizePipOption,
  normalizePipRequirement,
  qualifiedBaseImage,
  registryHost,
  resolveBaseImage,
} from "./hash/normalize";
export type { SourceLocation, SourceLocations } from "./internal/path";
export { lockJsonSchema, lockJsonSchemaText } from "./lock/jsonSchema";
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
  compareCondaVersionsSlow,
  sortCondaVersions,
} from "./packaging/condaVersion";
export { VersionSpec } from "./packaging/condaVersionSpec";
export {
  isPackagingError,
  PackagingError,
  PackagingErrorCode,
  type PackagingErrorOptions,
} from "./packaging/errors";
export {
  MARKER_VARIABLES,
  Marker,
  type MarkerComparison,
  type MarkerContext,
  type MarkerEnvironment,
  type MarkerList,
  type MarkerOp,
  type MarkerTarget,
  type MarkerValue,
  markerEnvironment,
} from "./packaging/marker";
export {
  CONDA_SUBDIRS,
  type CondaPackageRecord,
  condaChannelMatches,
  condaSpecFromLine,
  MatchSpec,
  type MatchSpecFields,
  type MatchSpecParseOptions,
  parseCondaChannel,
  parseMatchSpecString,
} from "./packaging/matchSpec";
export { Requirement } from "./packaging/requirement";
export {
  decodeRequirementsBytes,
  joinRequirementLines,
  type ParsedRequirementLine,
  type ParsedRequirementsFile,
  type ParseRequirementsOptions,
  PIP_FEATURES,
  parseRequirementsFile,
  type RequirementLineOptions,
  type RequirementsGlobalOptions,
  type RequirementsLoader,
  splitRequirementOptions,
  stripRequirementComments,
} from "./packaging/requirementsFile";
export {
  type ContainsOptions,
  canonicalizeVersion,
  Specifier,
  type SpecifierOperator,
} from "./packaging/specifier";
export { SpecifierSet } from "./packaging/specifierSet";
export {
  canonicalizeName,
  compareVersions,
  isValidName,
  type PreLabel,
  sortVersions,
  Version,
  type VersionParts,
} from "./packaging/version";
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
