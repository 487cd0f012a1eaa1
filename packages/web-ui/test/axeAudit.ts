import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { expect } from "vitest";

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

/** Whether the page fits its viewport's width (nothing to scroll sideways). */
export function fitsWidth(page: Page): Promise<boolean> {
  return page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
}

/**
 * The checks at the end of a page's test: a desktop screenshot `<name>-desktop.png` in `dir`, no
 * serious axe findings, then at phone width nothing to scroll sideways and `<name>-phone.png`.
 */
export async function auditDesktopAndPhone(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: join(dir, `${name}-desktop.png`), fullPage: true });
  expect(await axeViolations(page)).toEqual([]);
  await page.setViewportSize({ width: 375, height: 812 });
  expect(await fitsWidth(page)).toBe(true);
  await page.screenshot({ path: join(dir, `${name}-phone.png`), fullPage: true });
}
