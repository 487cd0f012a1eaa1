import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import committed from "../hash-vectors.json";
import { canonicalJson } from "../src/hash/canonicalJson";
import { computeHashVectors, type HashVectors } from "../src/hash/vectors";

const vectors = committed as HashVectors;

describe("hash-vectors.json in Node", () => {
  it("has vectors for canonical JSON and definitions", () => {
    expect(vectors.scheme).toBe("mlenv1-sha256");
    expect(vectors.canonical.length).toBeGreaterThanOrEqual(5);
    expect(vectors.definitions.length).toBeGreaterThanOrEqual(8);
  });

  it("reproduces every committed hash byte for byte", () => {
    expect(computeHashVectors(vectors.canonical, vectors.definitions)).toEqual(vectors);
  });

  it("agrees with node:crypto SHA-256 over the canonical bytes", () => {
    for (const c of vectors.canonical) {
      expect(canonicalJson(c.value)).toBe(c.canonical);
      const hex = createHash("sha256").update(Buffer.from(c.canonical, "utf8")).digest("hex");
      expect(c.hash).toBe(`mlenv1-sha256:${hex}`);
    }
  });

  it("holds equal hashes for the reordered, respelled and YAML spellings", () => {
    const byName = new Map(vectors.definitions.map((d) => [d.name, d]));
    const a = byName.get("conda and pip")!;
    for (const other of ["same, reordered and respelled", "definition as YAML"]) {
      expect(byName.get(other)!.definitionHash).toBe(a.definitionHash);
      expect(byName.get(other)!.imageKey).toBe(a.imageKey);
    }
    expect(new Set(vectors.definitions.map((d) => d.imageKey)).size).toBe(vectors.definitions.length - 2);
  });
});
