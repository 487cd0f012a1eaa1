import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bundleWebUi } from "./bundle";

/**
 * Write the web UI bundle to `<dir>/ui/app.js` (run after tsup: `tsx src/buildAssets.ts` writes
 * dist/ui/app.js). A built package serves that file instead of bundling its sources.
 */
export async function writeWebUiAssets(dir: string): Promise<string> {
  const out = `${dir.replace(/\/$/, "")}/ui`;
  mkdirSync(out, { recursive: true });
  const file = `${out}/app.js`;
  writeFileSync(file, await bundleWebUi());
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dist = fileURLToPath(new URL("../dist", import.meta.url));
  writeWebUiAssets(dist).then(
    (file) => process.stdout.write(`wrote ${file}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
