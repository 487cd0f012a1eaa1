export {
  CondaVersion,
  type CondaVersionPart,
  compareCondaVersionsSlow,
  sortCondaVersions,
} from "./condaVersion";
export { VersionSpec } from "./condaVersionSpec";
export { isPackagingError, PackagingError, PackagingErrorCode, type PackagingErrorOptions } from "./errors";
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
} from "./marker";
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
} from "./matchSpec";
export { Requirement } from "./requirement";
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
} from "./requirementsFile";
export { type ContainsOptions, canonicalizeVersion, Specifier, type SpecifierOperator } from "./specifier";
export { SpecifierSet } from "./specifierSet";
export {
  canonicalizeName,
  compareVersions,
  isValidName,
  type PreLabel,
  sortVersions,
  Version,
  type VersionParts,
} from "./version";
