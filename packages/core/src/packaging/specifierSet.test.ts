import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Specifier } from "./specifier";
import { SpecifierSet } from "./specifierSet";
import { Version } from "./version";

describe("Specifier / SpecifierSet", () => {
  it.each([
    ["~=2.2", "2.9", true],
    ["~=2.2", "3.0", false],
    ["==2.*", "2.0.0.1", true],
    ["!=2.*", "2.5", false],
    [">1.0", "1.0.post1", false],
    ["<2.0", "2.0a1", false],
    ["==1.0", "1.0+local", true],
    ["===foobar", "FOOBAR", true],
  ])("matches operator %s against %s: %s", (spec, version, expected) => {
    expect(new SpecifierSet(spec).contains(version)).toBe(expected);
  });

  it("applies the pre-release policy (packaging 26)", () => {
    const s = new SpecifierSet(">=1.0");
    expect(s.contains("2.0a1")).toBe(true);
    expect(s.contains("2.0a1", { prereleases: false })).toBe(false);
    expect(s.filter(["1.5", "2.0a1"])).toEqual(["1.5"]);
    expect(s.filter(["0.9", "2.0a1"])).toEqual(["2.0a1"]);
    expect(new SpecifierSet(">=1.0", false).filter(["2.0a1"])).toEqual([]);
  });

  it("has a canonical string, equality and intersection", () => {
    expect(new SpecifierSet(" >1.0.0 , <2,>1.0").toString()).toBe("<2,>1.0");
    expect(new SpecifierSet("==1.0").equals("==1.0.0")).toBe(true);
    expect(new SpecifierSet(">2.0").and("<5.0").toString()).toBe("<5.0,>2.0");
    expect(() => new SpecifierSet("", true).and(new SpecifierSet("", false))).toThrow(/pre-release/);
  });

  it("answers subset, superset, disjoint and unsatisfiable", () => {
    expect(new SpecifierSet(">=3.12,<3.13").isSubset(">=3.11")).toBe(true);
    expect(new SpecifierSet(">=3.12").isSuperset(">=3.12,<3.13")).toBe(true);
    expect(new SpecifierSet("<3.12").isDisjoint(">=3.12")).toBe(true);
    expect(new SpecifierSet(">1.0,<1.0.post0.dev0").isUnsatisfiable()).toBe(true);
    expect(new SpecifierSet(">=1.0,<1.1").isUnsatisfiable()).toBe(false);
  });

  it("rejects malformed specifiers", () => {
    for (const bad of ["2.0", "=>2.0", "~=1", ">=1.0.*", "==1.0a1.*", "<1.0+local"]) {
      expect(() => new Specifier(bad)).toThrow(/Expected a PEP 440 specifier/);
    }
  });

  it("property: str round-trips and contains agrees with filter", () => {
    const op = fc.constantFrom("==", "!=", "<=", ">=", "<", ">", "~=");
    const ver = fc.tuple(fc.nat(5), fc.nat(5)).map(([a, b]) => `${a}.${b}`);
    fc.assert(
      fc.property(fc.array(fc.tuple(op, ver), { minLength: 1, maxLength: 3 }), ver, (parts, v) => {
        const text = parts.map(([o, x]) => o + x).join(",");
        const s = new SpecifierSet(text);
        expect(new SpecifierSet(s.toString()).equals(s)).toBe(true);
        expect(s.filter([v]).length === 1).toBe(s.contains(Version.parse(v)));
      }),
    );
  });
});
