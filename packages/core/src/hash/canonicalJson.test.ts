import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonicalJson";
import { hashJson } from "./hash";

/** JSON values without numbers at or beyond 2^53, which canonicalJson rejects by design. */
const safeJson = fc.jsonValue({ noUnicodeString: false }).filter(function ok(v: unknown): boolean {
  if (typeof v === "number") return Math.abs(v) < 2 ** 53;
  if (Array.isArray(v)) return v.every(ok);
  if (v && typeof v === "object") return Object.values(v).every(ok);
  return true;
});

describe("canonicalJson (RFC 8785)", () => {
  it("sorts keys by UTF-16 code units, not locale", () => {
    // RFC 8785 section 3.2.3 ordering example: "\u20ac" (U+20AC) sorts before "\ud83d\ude00" (U+1F600 as a pair)
    // and "\r" first; uppercase sorts before lowercase.
    const value = { "\u20ac": 1, "\r": 2, "\ud83d\ude00": 3, b: 4, B: 5, "\u00e9": 6, a: 7 };
    expect(canonicalJson(value)).toBe('{"\\r":2,"B":5,"a":7,"b":4,"é":6,"€":1,"😀":3}');
  });

  it("formats numbers like ECMAScript", () => {
    expect(canonicalJson([0, -0, 1e-7, 0.1, 123.456, -5, 1.5e-300, 333333333.3333333, 2 ** 53 - 1])).toBe(
      "[0,0,1e-7,0.1,123.456,-5,1.5e-300,333333333.3333333,9007199254740991]",
    );
  });

  it("escapes strings minimally", () => {
    expect(canonicalJson('\u0000\b\t\n\f\r"\\/\u001f\u007f é')).toBe(
      '"\\u0000\\b\\t\\n\\f\\r\\"\\\\/\\u001f\u007f é"',
    );
  });

  it("has no whitespace and keeps array order", () => {
    expect(canonicalJson({ z: [3, 1, { y: null, x: true }], a: "s" })).toBe(
      '{"a":"s","z":[3,1,{"x":true,"y":null}]}',
    );
  });

  it.each([
    ["NaN", Number.NaN],
    ["Infinity", Number.POSITIVE_INFINITY],
    ["an unsafe integer", 2 ** 53],
    ["a large double (all doubles >= 2^53 are integers)", 1e21],
    ["a lone high surrogate", "a\ud800"],
    ["a lone low surrogate", "\udc00b"],
    ["a lone surrogate in a key", { "\ud800": 1 }],
    ["undefined in an array", [undefined]],
    ["a Date", new Date(0)],
    ["a bigint", 1n],
    ["a function", () => 1],
  ])("rejects %s", (_label, value) => {
    expect(() => canonicalJson(value)).toThrow(expect.objectContaining({ code: "E_CANONICAL_JSON" }));
  });

  it("parses back to the same value and is a fixed point (property)", () => {
    fc.assert(
      fc.property(safeJson, (v) => {
        const text = canonicalJson(v);
        expect(canonicalJson(JSON.parse(text))).toBe(text);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      { numRuns: 300 },
    );
  });

  it("does not depend on key insertion order (property)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), safeJson, { maxKeys: 12 }), (obj) => {
        const reversed = Object.fromEntries(Object.entries(obj).reverse());
        expect(canonicalJson(reversed)).toBe(canonicalJson(obj));
        expect(hashJson(reversed)).toBe(hashJson(obj));
      }),
      { numRuns: 300 },
    );
  });
});
