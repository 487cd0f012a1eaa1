export { requireAll, skipWithout } from "./components";
export { baseImageCpu, dockerAvailable } from "./docker";
export type { PostgresHandle } from "./postgres";
export { postgresMissing, startPostgres } from "./postgres";
export type { LocalRegistry } from "./registry";
export { registryAvailable, startRegistry } from "./registry";
export { makeTempDir } from "./tempDir";
export type { BuildWheelOptions, BuiltWheel } from "./wheel";
export { buildWheel, escapeWheelName } from "./wheel";
