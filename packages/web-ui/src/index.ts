import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { uiPage } from "./page";
import { uiStyles } from "./styles";

/** The three files of the web UI, as the server serves them. */
export interface WebUiAssets {
  /** The single page, served at `/`. */
  html: string;
  /** The stylesheet, served at `/ui/app.css`. */
  css: string;
  /** The browser app, one ES module, served at `/ui/app.js`. */
  js: string;
}

/**
 * The prebuilt bundle beside this module: dist/ui/app.js for the built package (and ui/app.js beside
 * a bundled CLI); absent when running from source.
 */
const prebuilt = fileURLToPath(new URL("./ui/app.js", import.meta.url));

/**
 * The web UI's files: the prebuilt bundle when this package runs from dist, else the sources
 * bundled by esbuild (a development dependency; from source only).
 */
export async function loadWebUi(): Promise<WebUiAssets> {
  const js = existsSync(prebuilt)
    ? readFileSync(prebuilt, "utf8")
    : await import("./bundle").then((m) => m.bundleWebUi());
  return { html: uiPage(), css: uiStyles, js };
}
