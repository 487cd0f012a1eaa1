export type { AppDeps } from "./app";
export { createApp } from "./app";
export { generateToken, hashToken } from "./auth";
export type { BlobDigest, BlobStore } from "./blobs/blobStore";
export { blobDigest, FsBlobStore, isBlobDigest } from "./blobs/blobStore";
export type {
  BuildEvent,
  BuildJob,
  BuildJobError,
  BuildJobOutcome,
  BuildJobStatus,
  BuildJobStore,
  BuildLogRecord,
  BuildQueueOptions,
  BuildRequest,
  BuildRoutesDeps,
  BuildSource,
  ImageBuilderOptions,
  ImageBuildResult,
  RenderBuildContext,
  SubmitBuildInput,
} from "./builds/index";
export {
  BuildError,
  BuildErrorCode,
  BuildQueue,
  buildEventResponse,
  buildEventStream,
  buildRoutes,
  coreRenderer,
  IMAGE_LABEL_DEFINITION,
  IMAGE_LABEL_KEY,
  ImageBuilder,
  openBuildJobStore,
} from "./builds/index";
export { isReservedName, RESERVED_PREFIX } from "./curated";
export type {
  BuildContextFiles,
  BuildImageOptions,
  BuildImageResult,
  BuildLogLine,
  ContainerSpec,
  DockerClientOptions,
  DockerEndpoint,
  FailedStep,
  ImageHistoryEntry,
  ImageInspect,
  OperationOptions,
  PushImageOptions,
  RegistryAuth,
  RegistryTarget,
  RunResult,
} from "./docker/index";
export {
  DockerBuildError,
  DockerClient,
  DockerError,
  DockerErrorCode,
  isDockerError,
  parseDockerHost,
  parseImageReference,
  registryManifestDigest,
} from "./docker/index";
export { isServerError, ServerError, ServerErrorCode } from "./errors";
export type { LogFields, Logger, LogLevel } from "./logger";
export { jsonLogger, silentLogger } from "./logger";
export type { EnvironmentSummaryView, EnvironmentVersionView, RegisterOutcome } from "./registry";
export { Registry } from "./registry";
export type { RunningServer, ServerOptions } from "./server";
export { openStore, startServer } from "./server";
export { PostgresStore } from "./store/postgresStore";
export { SqliteStore } from "./store/sqliteStore";
export type {
  AuthenticatedToken,
  EnvironmentRecord,
  LabelRecord,
  Role,
  Store,
  TokenRecord,
  VersionRecord,
  WorkspaceRecord,
} from "./store/types";
