/** The Docker client's public names (the package barrel re-exports them all). */
export type { BuildContextFiles } from "./buildContext";
export type { BuildLogLine } from "./buildLog";
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
export { parseImageReference } from "./reference";
export type { RegistryTarget } from "./registryApi";
export { registryManifestDigest } from "./registryApi";
