import { fileURLToPath } from "node:url";

/** Source entry of the browser app. */
const sourceEntry = fileURLToPath(new URL("./app/main.ts", import.meta.url));

/**
 * Bundle the browser app (Preact + @mlenv/sdk + @mlenv/core, from source) with esbuild into one
 * minified ES module. Used by the package build and, from source, on the first request for it.
 */
export async function bundleWebUi(): Promise<string> {
  const esbuild = await import("esbuild");
  const out = await esbuild.build({
    entryPoints: [sourceEntry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["@mlenv/source"],
    write: false,
    minify: true,
    legalComments: "none",
    logLevel: "silent",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const file = out.outputFiles[0];
  if (!file) throw new Error("Expected esbuild to emit the web UI bundle; it emitted no file");
  return file.text;
}
