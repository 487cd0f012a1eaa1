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
