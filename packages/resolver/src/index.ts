export {
  type CondaChannel,
  condaChannel,
  type HttpChannelOptions,
  httpCondaChannel,
  localCondaChannel,
} from "./conda/channel";
export { type CudaSource, type DetectedCuda, detectCuda, parseCudaVersion } from "./conda/cuda";
export { type ChannelPriority, CondaProvider, type CondaSemantics } from "./conda/provider";
export {
  type CondaRecord,
  type CondaRecordSource,
  combineSources,
  parseRepodata,
  recordSource,
  repodataSource,
} from "./conda/record";
export { defaultCondaSemantics } from "./conda/semantics";
export { type CondaSolution, type CondaSolveInput, solveConda, solveCondaRecords } from "./conda/solve";
export { type VerifyInput, type VerifyResult, verifyCondaSolution } from "./conda/verify";
export { type VirtualPackageOptions, virtualPackages } from "./conda/virtual";
export { isResolverError, ResolverError, ResolverErrorCode } from "./errors";
export {
  channelLocation,
  checkLock,
  type LockCheck,
  type LockOptions,
  lockChannels,
  lockEnvironment,
  type OutdatedEntry,
  outdated,
} from "./lock";
export {
  type DistFile,
  type HttpIndexOptions,
  httpPypiIndex,
  metadataFromWheel,
  multiIndex,
  type PypiIndex,
  parseHtmlProjectPage,
  parseJsonProjectPage,
} from "./pypi/index";
export { type CoreMetadata, parseCoreMetadata } from "./pypi/metadata";
export {
  ForkNeeded,
  type ParsedRequirement,
  type PipCandidateSource,
  type PipPolicy,
  PipProvider,
  type PipRelease,
  type PipSemantics,
} from "./pypi/provider";
export {
  type IndexSourceOptions,
  indexCandidateSource,
  type PipResolution,
  type PipResolveOptions,
  type PipUniversalOptions,
  type PipUniversalResolution,
  resolvePip,
  resolvePipUniversal,
} from "./pypi/resolve";
export { defaultPipSemantics } from "./pypi/semantics";
export {
  compatibleTags,
  markerEnvironment,
  type PythonTarget,
  parseSdistFilename,
  parseWheelFilename,
  type WheelName,
} from "./pypi/tags";
export {
  type ClauseOrigin,
  type Dependencies,
  type DependencyProvider,
  type SolveOutcome,
  type SolveStats,
  solveCdcl,
} from "./solver/cdcl";
