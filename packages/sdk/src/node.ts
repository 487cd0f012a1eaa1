// Node-only entry of the SDK (`@mlenv/sdk/node`): everything that touches the filesystem.
export type { FromPrefixOptions, PrefixPackage } from "./condaPrefix";
export { findCondaEnvironment, fromExistingCondaEnvironment, readCondaPrefix } from "./condaPrefix";
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

import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import {
  Experiment as BaseExperiment,
  type DeployOptions,
  deploy as deployWith,
  type SourceReader,
  type Webservice,
} from "./runs";
import { snapshotDirectory } from "./sourceSnapshot";
import { addPrivatePipWheel } from "./wheels";
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
  options: Omit<DeployOptions, "readSource">,
): Promise<Webservice> {
  return deployWith(workspace, { ...options, readSource: (dir) => snapshotDirectory(dir) });
}

/**
 * {@link addPrivatePipWheel} from a wheel file on disk (the reference's
 * `Environment.add_private_pip_wheel(workspace, file_path)`): the file name is the wheel's name.
 */
export async function addPrivatePipWheelFile(
  workspace: Workspace,
  filePath: string,
  options: Parameters<typeof addPrivatePipWheel>[2] = {},
): Promise<string> {
  if (!filePath.endsWith(".whl")) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected the path of a wheel file (*.whl) such as dist/my_pkg-1.0-py3-none-any.whl; received ${preview(filePath)}`,
    );
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(filePath));
  } catch (cause) {
    throw new MlenvError(
      SdkErrorCodes.invalidArgument,
      `Expected a readable wheel file at ${preview(filePath)}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return addPrivatePipWheel(workspace, { filename: basename(filePath), bytes }, options);
}
