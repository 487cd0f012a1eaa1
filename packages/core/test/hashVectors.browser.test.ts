import { join } from "node:path";
import { chromiumMissing, evaluateInChromium, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import committed from "../hash-vectors.json";
import type { HashVectors } from "../src/hash/vectors";

const vectors = committed as HashVectors;

describe.skipIf(skipWithout("chromium", chromiumMissing))("hash-vectors.json in headless Chromium", () => {
  it("computes the same hashes byte for byte from a bundle of core", async () => {
    const run = await evaluateInChromium<{ result: HashVectors; subtle: string[] }>({
      contents:
        'export { computeHashVectors } from "./hash/vectors";\nexport { canonicalJson } from "./index";\n',
      resolveDir: join(import.meta.dirname, "../src"),
      globalName: "__core",
      expression: `(async () => {
        const v = ${JSON.stringify(vectors)};
        const result = __core.computeHashVectors(v.canonical, v.definitions);
        // Cross-check SHA-256 with the browser's own WebCrypto.
        const subtle = [];
        for (const c of v.canonical) {
          const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(__core.canonicalJson(c.value)));
          subtle.push("mlenv1-sha256:" + [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""));
        }
        return { result, subtle };
      })()`,
    });
    expect(run.userAgent).toMatch(/HeadlessChrome|Chrome/);
    expect(run.value.result).toEqual(vectors);
    expect(run.value.subtle).toEqual(vectors.canonical.map((c) => c.hash));
  }, 60_000);
});
