import { describe, expect, it } from "vitest";
import { chromiumMissing, evaluateInChromium } from "./browser";
import { skipWithout } from "./components";

describe.skipIf(skipWithout("chromium", chromiumMissing))("evaluateInChromium", () => {
  it("bundles a module and evaluates it in headless Chromium", async () => {
    const run = await evaluateInChromium<{ sum: number; hasProcess: boolean }>({
      contents: "export const add = (a: number, b: number): number => a + b;",
      globalName: "__m",
      expression: "({ sum: __m.add(2, 3), hasProcess: typeof process !== 'undefined' })",
    });
    expect(run.value).toEqual({ sum: 5, hasProcess: false });
    expect(run.userAgent).toContain("Chrome");
  });

  it("reports errors thrown by the expression", async () => {
    await expect(
      evaluateInChromium({
        contents: "export const x = 1;",
        expression: "Promise.reject(new Error('boom'))",
      }),
    ).rejects.toThrow(/boom/);
  });
});

describe.skipIf(skipWithout("chromium", chromiumMissing))("evaluateInChromium page", () => {
  it("is a secure context with WebCrypto and no network", async () => {
    const run = await evaluateInChromium<{ secure: boolean; subtle: boolean; fetchFailed: boolean }>({
      contents: "export const ok = true;",
      expression: `(async () => ({
        secure: isSecureContext,
        subtle: typeof crypto.subtle?.digest === "function",
        fetchFailed: await fetch("http://127.0.0.1:9/x").then(() => false, () => true),
      }))()`,
    });
    expect(run.value).toEqual({ secure: true, subtle: true, fetchFailed: true });
  });
});
