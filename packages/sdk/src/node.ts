// Node-only entry of the SDK (`@mlenv/sdk/node`): everything that touches the filesystem.
export type { FromPrefixOptions, PrefixPackage } from "./condaPrefix";
export { fromExistingCondaEnvironment, readCondaPrefix } from "./condaPrefix";
export type { ConfigEnv, MlenvConfig, WorkspaceFromConfigOptions } from "./config";
export { configPath, readConfig, workspaceFromConfig, writeConfig } from "./config";
export type { LoadDefinitionPathOptions, WriteFilesOptions } from "./definitionFiles";
export {
  fromCondaSpecificationFile,
  fromPipRequirementsFile,
  loadDefinitionPath,
  loadFromDirectory,
  saveToDirectory,
  writeDefinitionFiles,
} from "./definitionFiles";
export type { SnapshotOptions } from "./sourceSnapshot";
export { DEFAULT_MAX_SNAPSHOT_BYTES, parseIgnore, snapshotDirectory } from "./sourceSnapshot";

import {
  Experiment as BaseExperiment,
  type DeploymentConfig,
  deploy as deployWith,
  type InferenceConfig,
  type Model,
  type SourceReader,
  type Webservice,
} from "./runs";
import { snapshotDirectory } from "./sourceSnapshot";
import type { Workspace } from "./workspace";

/** An experiment whose `submit` snapshots the source directory from disk (honouring `.mlenvignore`). */
export class Experiment extends BaseExperiment {
  constructor(workspace: Workspace, name: string, options: { readSource?: SourceReader } = {}) {
    super(workspace, name, { readSource: options.readSource ?? ((dir) => snapshotDirectory(dir)) });
  }
}

/** Deploy one model as a local web service; the inference config's source directory is read from disk. */
export function deploy(
  workspace: Workspace,
  options: {
    name: string;
    models: Model[];
    inferenceConfig: InferenceConfig;
    deploymentConfig?: DeploymentConfig;
  },
): Promise<Webservice> {
  return deployWith(workspace, { ...options, readSource: (dir) => snapshotDirectory(dir) });
}
