import { readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * The regular files under `root` (a run's outputs), depth-first in name order, as full paths:
 * symlinks and other kinds are skipped, and so is a folder that cannot be read.
 */
export async function* outputFiles(root: string): AsyncGenerator<string> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(root, e.name);
    if (e.isDirectory()) yield* outputFiles(p);
    else if (e.isFile()) yield p;
  }
}
