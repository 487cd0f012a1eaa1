export type {
  BuildRequest,
  BuildSource,
  ImageBuilderOptions,
  ImageBuildResult,
  RenderBuildContext,
} from "./builder";
export { IMAGE_LABEL_DEFINITION, IMAGE_LABEL_KEY, ImageBuilder } from "./builder";
