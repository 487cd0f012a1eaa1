export { requireAll, skipWithout } from "./components";
export type { PostgresHandle } from "./postgres";
export { postgresMissing, startPostgres } from "./postgres";
export { makeTempDir } from "./tempDir";
