import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CondaVersion, compareCondaVersionsSlow, sortCondaVersions } from "./condaVersion";
import { VersionSpec } from "./condaVersionSpec";

const arbCondaVersion = fc
  .tuple(
    fc.option(fc.nat(2), { nil: undefined }),
    fc.array(
      fc.array(fc.oneof(fc.nat(12).map(String), fc.constantFrom("a", "b", "rc", "dev", "post", "_", "z")), {
        minLength: 1,
        maxLength: 3,
      }),
      { minLength: 1, maxLength: 4 },
    ),
    fc.option(fc.constantFrom("abc", "1", "2.x"), { nil: undefined }),
  )
  .map(([epoch, comps, local]) => {
    const main = comps.map((c) => c.join("")).join(".");
    return `${epoch === undefined ? "" : `${epoch}!`}${main}${local === undefined ? "" : `+${local}`}`;
  })
  .filter((s) => {
    try {
      new CondaVersion(s);
      return true;
    } catch {
      return false;
    }
  });

describe("CondaVersion", () => {
  it("orders like conda (dev < _ < letters < final < post)", () => {
    const order = ["1.0.1dev", "1.0.1_", "1.0.1a", "1.0.1rc1", "1.0.1", "1.0.1post.a", "1.0.2", "1!0.1"];
    expect(sortCondaVersions([...order].reverse())).toEqual(order);
    expect(CondaVersion.parse("0.4").equals(CondaVersion.parse("0.4.0"))).toBe(true);
    expect(CondaVersion.parse("1.1").compare(CondaVersion.parse("1.1a1"))).toBe(1);
  });

  it("sorts at the packing limits (more than four numbers, numbers >= 4096, epochs > 3) by the full key", () => {
    const order = [
      "1.2.3.4",
      "1.2.3.4.0.1",
      "1.2.3.4.1",
      "1.2.3.4.5",
      "1.2.3.5",
      "4095",
      "4095.4095.4095.4095",
      "4095.4095.4095.4095.1",
      "4096",
      "4096.0.1",
      "1!0",
      "3!4095.1",
      "3!4096",
      "4!0",
    ];
    expect(sortCondaVersions([...order].reverse())).toEqual(order);
    expect(sortCondaVersions([...order.slice(7), ...order.slice(0, 7)])).toEqual(order);
  });

  it("prefix-matches", () => {
    expect(CondaVersion.parse("0.4.1p1").startsWith(CondaVersion.parse("0.4.1p"))).toBe(true);
    expect(CondaVersion.parse("0.4").startsWith(CondaVersion.parse("0.4.1"))).toBe(false);
  });

  it("rejects invalid versions", () => {
    for (const bad of ["", "3.5&1", "5.5++", "a!1.0"])
      expect(() => new CondaVersion(bad), bad).toThrow(/conda version/);
  });

  it("property: the sort key agrees with conda's element-wise comparison (total order)", () => {
    fc.assert(
      fc.property(arbCondaVersion, arbCondaVersion, (a, b) => {
        const x = CondaVersion.parse(a);
        const y = CondaVersion.parse(b);
        expect(x.compare(y)).toBe(compareCondaVersionsSlow(x, y));
        expect(y.compare(x)).toBe(-x.compare(y) || 0);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: sortCondaVersions (packed fast path) agrees with the element-wise comparison", () => {
    const plain = fc
      .array(fc.oneof(fc.nat(12), fc.constantFrom(0, 4095, 4096)), { minLength: 1, maxLength: 6 })
      .map((xs) => xs.join("."));
    fc.assert(
      fc.property(fc.array(fc.oneof(arbCondaVersion, plain), { minLength: 2, maxLength: 30 }), (list) => {
        const sorted = sortCondaVersions(list).map((s) => CondaVersion.parse(s));
        for (let i = 0; i + 1 < sorted.length; i++) {
          expect(
            compareCondaVersionsSlow(sorted[i] as CondaVersion, sorted[i + 1] as CondaVersion),
          ).toBeLessThanOrEqual(0);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("property: normalising is idempotent and parse(toString(v)) == v", () => {
    fc.assert(
      fc.property(arbCondaVersion, (s) => {
        const v = CondaVersion.parse(s);
        const again = new CondaVersion(v.toString());
        expect(again.toString()).toBe(v.toString());
        expect(again.equals(v)).toBe(true);
      }),
    );
  });
});

describe("VersionSpec", () => {
  it.each([
    ["1.7.*", "1.7.1", true],
    ["1.7", "1.7.1", false],
    ["=1.7", "1.7.1", true],
    [">=1.5,<2|3.*", "3.1", true],
    ["!=3.3.*", "3.3.1", false],
    ["^1\\.7\\.[0-9]+$", "1.7.12", true],
  ])("matches the conda form %s against %s: %s", (spec, version, expected) => {
    expect(new VersionSpec(spec).match(version)).toBe(expected);
  });

  it("spells and rejects the conda forms", () => {
    expect(new VersionSpec("1.7.1*").toString()).toBe("1.7.1.*");
    expect(() => new VersionSpec("1.5||1.6")).toThrow(/conda version spec/);
  });

  it("'~=' with one component parses, matches nothing below it and raises at or above it, like conda", () => {
    const spec = new VersionSpec("~=2");
    expect(spec.match("1.9")).toBe(false);
    expect(() => spec.match("2.1")).toThrow(
      expect.objectContaining({ code: "E_CONDA_VERSION_SPEC_INVALID" }),
    );
    expect(() => spec.match("2")).toThrow(/one component/);
    expect(new VersionSpec("~=2|1.5").match("1.5")).toBe(true);
  });

  it("property: the canonical string parses to an equal spec", () => {
    const leaf = fc.constantFrom("1.7", "1.7.*", ">=1.5", "<2", "!=1.6", "=2.1", "~=1.10");
    fc.assert(
      fc.property(
        fc.array(fc.tuple(leaf, fc.constantFrom(",", "|")), { minLength: 1, maxLength: 4 }),
        (parts) => {
          const text = parts.map(([l, op], i) => (i === 0 ? l : `${op} ${l}`)).join(" ");
          const s = new VersionSpec(text);
          expect(new VersionSpec(s.toString()).equals(s)).toBe(true);
        },
      ),
    );
  });
});
