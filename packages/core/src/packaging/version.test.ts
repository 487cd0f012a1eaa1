import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isPackagingError } from "./errors";
import { canonicalizeName, sortVersions, Version } from "./version";

const arbVersion = fc
  .record({
    epoch: fc.oneof(fc.constant(0), fc.nat(3)),
    release: fc.array(fc.oneof(fc.nat(20), fc.constantFrom(0, 4095, 4096, 100000)), {
      minLength: 1,
      maxLength: 6,
    }),
    pre: fc.option(fc.tuple(fc.constantFrom("a" as const, "b" as const, "rc" as const), fc.nat(3))),
    post: fc.option(fc.nat(3)),
    dev: fc.option(fc.nat(3)),
    local: fc.option(fc.constantFrom("abc", "1", "ubuntu.2", "0.a", "x-y_z")),
  })
  .map((p) => Version.fromParts(p));

describe("Version", () => {
  it("normalises spellings", () => {
    expect(Version.parse(" v1.0-ALPHA.1_post-2.DEV3+Ubuntu-1 ").toString()).toBe("1.0a1.post2.dev3+ubuntu.1");
    expect(Version.parse("1.0-1").toString()).toBe("1.0.post1");
    expect(Version.parse("1.0c1").equals(Version.parse("1.0rc1"))).toBe(true);
    expect(Version.parse("1.0").equals(Version.parse("1.0.0"))).toBe(true);
  });

  it("orders dev < pre < final < post, locals after", () => {
    const order = [
      "1.0.dev1",
      "1.0a1",
      "1.0b1",
      "1.0rc1",
      "1.0",
      "1.0+abc",
      "1.0+1",
      "1.0.post1",
      "1.1",
      "1!0.1",
    ];
    const shuffled = [...order].reverse();
    expect(sortVersions(shuffled)).toEqual(order);
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
    expect(sortVersions([...order].reverse())).toEqual(order);
    expect(sortVersions([...order.slice(7), ...order.slice(0, 7)])).toEqual(order);
  });

  it("exposes parts", () => {
    const v = Version.parse("2!1.2.3rc4.post5.dev6+l.7");
    expect([v.epoch, v.release, v.pre, v.post, v.dev, v.local]).toEqual([
      2,
      [1, 2, 3],
      ["rc", 4],
      5,
      6,
      "l.7",
    ]);
    expect(v.public).toBe("2!1.2.3rc4.post5.dev6");
    expect(v.baseVersion).toBe("2!1.2.3");
    expect([v.isPrerelease, v.isPostrelease, v.isDevrelease]).toEqual([true, true, true]);
  });

  it("rejects invalid versions with a coded error", () => {
    try {
      Version.parse("french toast");
      expect.unreachable();
    } catch (e) {
      expect(isPackagingError(e) && e.code).toBe("E_VERSION_INVALID");
      expect((e as Error).message).toContain('"french toast"');
    }
    expect(Version.tryParse("1.0+İ")).toBeNull();
  });

  it("canonicalises names (PEP 503)", () => {
    expect(canonicalizeName("Foo__Bar.-baz")).toBe("foo-bar-baz");
  });

  it("property: parse(toString(v)) == v and normalising is idempotent", () => {
    fc.assert(
      fc.property(arbVersion, (v) => {
        const again = Version.parse(v.toString());
        expect(again.equals(v)).toBe(true);
        expect(again.toString()).toBe(v.toString());
      }),
    );
  });

  it("property: the packed numeric order agrees with the string sort key, and sortVersions with both", () => {
    fc.assert(
      fc.property(fc.array(arbVersion, { minLength: 2, maxLength: 30 }), (vs) => {
        const [a, b] = vs as [Version, Version];
        const byKey = a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
        expect(a.compare(b)).toBe(byKey);
        const strings = vs.map(String);
        const sorted = sortVersions(strings).map((x) => Version.parse(x).key);
        expect(sorted).toEqual(vs.map((v) => v.key).sort());
      }),
      { numRuns: 500 },
    );
  });

  it("property: ordering is a total order consistent with equality", () => {
    fc.assert(
      fc.property(arbVersion, arbVersion, arbVersion, (a, b, c) => {
        expect(a.compare(b)).toBe(-b.compare(a) || 0);
        if (a.compare(b) <= 0 && b.compare(c) <= 0) expect(a.compare(c)).toBeLessThanOrEqual(0);
        expect(a.compare(b) === 0).toBe(a.equals(b));
      }),
    );
  });
});
