import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary directory and a function that removes it. */
export function makeTempDir(prefix = "mlenv-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * A tag of this test process and moment (`<pid>x<time in base 36>`): names with it (images,
 * packages, environments) do not meet those of another run on the same engine or registry.
 */
export function uniqueTag(): string {
  return `${process.pid}x${Date.now().toString(36)}`;
}
