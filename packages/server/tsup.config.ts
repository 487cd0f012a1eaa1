import { defineConfig } from "tsup";

export default defineConfig({
  // the wheel validation worker is its own file: worker threads load it by URL
  entry: { index: "src/index.ts", validateWorker: "src/wheels/validateWorker.ts" },
  format: ["esm"],
  dts: { entry: { index: "src/index.ts" } },
  clean: true,
  sourcemap: true,
  removeNodeProtocol: false,
});
