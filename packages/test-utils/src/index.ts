export { requireAll, skipWithout } from "./components";
export type { PostgresHandle } from "./postgres";
export { postgresMissing, startPostgres } from "./postgres";
export { makeTempDir } from "./tempDir";
export type { BuildWheelOptions, BuiltWheel } from "./wheel";
export { buildWheel, escapeWheelName } from "./wheel";
