import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { bundleUi } from "./serve";

/**
 * Write the web UI bundle to dist/ui/app.js for the built server (run after tsup:
 * `tsx src/ui/buildAssets.ts`). The built server serves that file instead of bundling at start.
 */
export async function writeUiAssets(distDir: string): Promise<string> {
  const dir = `${distDir.replace(/\/$/, "")}/ui`;
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/app.js`;
  writeFileSync(file, await bundleUi());
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dist = fileURLToPath(new URL("../../dist", import.meta.url));
  writeUiAssets(dist).then(
    (file) => process.stdout.write(`wrote ${file}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
