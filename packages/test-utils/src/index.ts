export { requireAll, skipWithout } from "./components";
export { makeTempDir } from "./tempDir";
