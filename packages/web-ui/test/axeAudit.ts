import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Page } from "playwright-core";

let source: string | null = null;

/**
 * Test helper: run axe-core's WCAG 2.0/2.1 A and AA rules on a page and return its serious or
 * critical findings as `rule: targets` lines (empty when clean). Runtime evaluation is not subject
 * to the page's CSP, so the app keeps its strict policy while it is audited.
 */
export async function axeViolations(page: Page): Promise<string[]> {
  source ??= readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
  if (!(await page.evaluate("typeof axe !== 'undefined'"))) await page.evaluate(source);
  return (await page.evaluate(
    `axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } })
      .then((r) => r.violations.filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => v.id + ": " + v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")))`,
  )) as string[];
}
