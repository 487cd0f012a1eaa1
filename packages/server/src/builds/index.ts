/** The builds feature's public names (the package barrel re-exports them all). */
export type {
  BuildRequest,
  BuildSource,
  ImageBuilderOptions,
  ImageBuildResult,
  RenderBuildContext,
} from "./builder";
export { coreRenderer, IMAGE_LABEL_DEFINITION, IMAGE_LABEL_KEY, ImageBuilder } from "./builder";
export type { BuildEvent, BuildQueueOptions, SubmitBuildInput } from "./buildQueue";
export { BuildQueue } from "./buildQueue";
export type { BuildSupport, BuildSupportOptions } from "./buildSupport";
export { openBuildSupport, serverCoreConfig } from "./buildSupport";
export { BuildError, BuildErrorCode } from "./errors";
export { environmentImage, environmentImageKey } from "./imageKey";
export type {
  BuildJob,
  BuildJobError,
  BuildJobOutcome,
  BuildJobStatus,
  BuildJobStore,
  BuildLogRecord,
} from "./jobStore";
export { openBuildJobStore } from "./jobStore";
export type { PipSecretsPayload, PipSecretsSource } from "./pipSecrets";
export { BuildSecretBroker, needsPipSecrets, wheelPipSecrets } from "./pipSecrets";
export type { BuildRoutesDeps } from "./routes";
export { buildRoutes } from "./routes";
export { buildEventResponse, buildEventStream } from "./sse";
export type { BuildWorkerOptions, RunningBuildWorker } from "./worker";
export { startBuildWorker } from "./worker";
