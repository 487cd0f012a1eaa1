/**
 * Real components (Docker engine, PostgreSQL, Chromium, pip...) are never mocked. When one is
 * missing on a developer's machine its tests are skipped with one loud line; with
 * MLENV_REQUIRE_ALL=1 (CI) a missing component is a failure instead.
 */
export const requireAll = process.env.MLENV_REQUIRE_ALL === "1";

/**
 * Decide whether tests needing `component` should be skipped.
 * @param reason why the component is unavailable, or null/undefined when it is available.
 * @returns true to skip. Throws under MLENV_REQUIRE_ALL=1 when the component is missing.
 */
export function skipWithout(component: string, reason: string | null | undefined): boolean {
  if (!reason) return false;
  const line = `MLENV SKIP [${component}]: ${reason}`;
  if (requireAll) throw new Error(`${line} (MLENV_REQUIRE_ALL=1 forbids skipping)`);
  process.stderr.write(`\n*** ${line} ***\n`);
  return true;
}
