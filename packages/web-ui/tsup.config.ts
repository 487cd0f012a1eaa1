import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  // from source only: a built package reads dist/ui/app.js
  external: ["esbuild"],
  removeNodeProtocol: false,
});
