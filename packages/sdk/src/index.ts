export type { CreatedToken, CreatedWorkspace, TokenInfo } from "./admin";

import { builds, runs } from "@mlenv/api";

export { AdminClient } from "./admin";
export type { BuildInfo, BuildLogLine, BuildStatus, BuildWaitOptions, ImageDetails } from "./builds";
export { BuildsClient, buildEnvironment, ImageBuild } from "./builds";
export type {
  AttachSlurmOptions,
  ComputeTargetInfo,
  DatastoreArgument,
  DatastoreInfo,
  DatastoreVersionInfo,
  RunResources,
} from "./compute";
export { ComputeClient, Datastore, MpiConfiguration, PyTorchConfiguration } from "./compute";
export type { CondaDependenciesCreateOptions, CondaDocument } from "./condaDependencies";
export {
  CondaDependencies,
  condaSpecName,
  DEFAULT_CHANNELS,
  pipLineName,
} from "./condaDependencies";
export type { DependencySources, PythonSection, Registration } from "./environment";
export { Environment } from "./environment";
export type { MlenvErrorOptions, SdkErrorCode } from "./errors";
export { isMlenvError, MlenvError, SdkErrorCodes } from "./errors";
export type { FollowOptions, LogEvent, LogWaitOptions } from "./logStream";
export type {
  CloneRequest,
  DiffResult,
  EnvironmentSummary,
  EnvironmentVersion,
  LabelInfo,
  ListOptions,
  ListPage,
  RegisterRequest,
  RegisterResult,
  Role,
  VersionSelector,
  VersionSummary,
  WhoAmI,
} from "./registry";
export { RegistryClient } from "./registry";
export type {
  DeploymentConfig,
  DeployOptions,
  EnvironmentRef,
  GpuInfo,
  LogLine,
  MetricPoint,
  ModelInfo,
  RunArtifact,
  RunEnvironmentInfo,
  RunGpus,
  RunInfo,
  RunStatus,
  ServiceInfo,
  ServiceStatus,
  SnapshotFile,
  SourceReader,
  WaitOptions,
} from "./runs";
export {
  deploy,
  Estimator,
  Experiment,
  encodeFiles,
  environmentChoice,
  InferenceConfig,
  Model,
  Run,
  RunsClient,
  ScriptRunConfig,
  Webservice,
} from "./runs";
export type { ResolvedWheel, SecretInfo, WheelInfo, WheelRevisionInfo, WheelUploadResult } from "./wheels";
export { addPrivatePipWheel, WheelsClient } from "./wheels";
export type { CallInput, CallResult, RequestOptions, WorkspaceEnv, WorkspaceOptions } from "./workspace";
export { Workspace } from "./workspace";

/** Whether a build job or a run is finished (from @mlenv/api, the HTTP contract). */
export const isFinalBuildStatus = builds.isFinalBuildStatus;
export const isFinalRunStatus = runs.isFinalRunStatus;
