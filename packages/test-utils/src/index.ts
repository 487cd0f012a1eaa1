export type { BrowserRun, BundleOptions } from "./browser";
export {
  bundleForBrowser,
  CHROMIUM_PATH,
  chromiumMissing,
  evaluateInChromium,
  openChromium,
} from "./browser";
export { requireAll, skipWithout } from "./components";
export type {
  BuiltCondaPackage,
  CondaChannelOptions,
  CondaChannelServer,
  FixtureFile,
  FixturePackage,
  RepodataRecord,
} from "./condaChannel";
export {
  buildCondaPackage,
  ccMissing,
  channelFilesFromFlatIndex,
  compiledFixture,
  condaArchiveToolsMissing,
  greetCliFixture,
  LONG_BUILD_PREFIX,
  pythonFixture,
  repodataJson,
  serveCondaChannel,
  serveFixtureChannel,
  serveGpukitCondaChannel,
  withGreetCondaChannel,
  writeCondaChannel,
} from "./condaChannel";
export { localCondaDefinition } from "./definitions";
export { baseImageCpu, dockerAvailable } from "./docker";
export type { PostgresHandle } from "./postgres";
export { postgresMissing, startPostgres } from "./postgres";
export type { IndexFile, PypiIndexOptions, PypiIndexServer } from "./pypiIndex";
export { servePypiIndex, wheelProjects } from "./pypiIndex";
export type { PipRun, Venv } from "./python";
export { makeVenv, pipEnv, runWithPipEnv, twineMissing, venvMissing } from "./python";
export { LINEAR_SCORE_PY } from "./pythonScripts";
export type { LocalRegistry, StartRegistryOptions } from "./registry";
export { registryAvailable, startRegistry } from "./registry";
export type { ApiClient, CapturedLog, StartServerFn, TestServer } from "./server";
export { apiClient, snapshotFiles, startTestServer, uploadSnapshot } from "./server";
export type { ServerProcess } from "./serverProcess";
export { serveMainCommand, spawnServer } from "./serverProcess";
export type { SlurmCluster } from "./slurm";
export { SLURM_CLUSTER_SCRIPT, slurmMissing, startSlurm } from "./slurm";
export { makeTempDir, uniqueTag } from "./tempDir";
export type { BuildWheelOptions, BuiltWheel } from "./wheel";
export { buildWheel, escapeWheelName } from "./wheel";
