import { defineConfig, type Options } from "tsup";

/**
 * The build every published package shares: ESM from `src/index.ts`, declarations, source maps, and
 * `node:` imports left as written. A package's `tsup.config.ts` passes only what differs.
 */
export function packageConfig(options: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    clean: true,
    sourcemap: true,
    removeNodeProtocol: false,
    ...options,
  });
}
