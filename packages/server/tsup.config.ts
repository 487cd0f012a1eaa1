import { packageConfig } from "../../tsup.base";

export default packageConfig({
  // the wheel validation worker is its own file: worker threads load it by URL
  entry: { index: "src/index.ts", validateWorker: "src/wheels/validateWorker.ts" },
  dts: { entry: { index: "src/index.ts" } },
});
