export type { BuildContextFiles } from "./buildContext";
export { checkContextPath, contextTar } from "./buildContext";
export type { BuildLogLine } from "./buildLog";
export { BuildLogTracker } from "./buildLog";
export type {
  BuildImageOptions,
  BuildImageResult,
  ContainerSpec,
  DockerClientOptions,
  ImageHistoryEntry,
  ImageInspect,
  OperationOptions,
  PushImageOptions,
  RegistryAuth,
  RunResult,
} from "./client";
export { DockerClient } from "./client";
export type { DockerEndpoint } from "./endpoint";
export { parseDockerHost } from "./endpoint";
export type { FailedStep } from "./errors";
export { DockerBuildError, DockerError, DockerErrorCode, isDockerError } from "./errors";
export type { ImageReference } from "./reference";
export { parseImageReference, registryHost } from "./reference";
export type { RegistryTarget } from "./registryApi";
export { registryBaseUrl, registryManifestDigest } from "./registryApi";
