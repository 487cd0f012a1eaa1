import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isResolverError } from "../errors";
import { parseRepodata, type RepodataRecord, repodataSource } from "./record";
import { R_END, R_NAME, R_NAME_END, R_START, ROW, scanRepodata } from "./scan";

const tricky = {
  info: { subdir: "linux-64", note: 'braces } { and "quotes" \\ here' },
  packages: {
    "a-1.0-0.tar.bz2": {
      name: "a",
      version: "1.0",
      build: "0",
      build_number: 3,
      depends: ["b >=1,<2", 'c [build="*_1"]', "d {x}"],
      nested: { name: "not-me", arr: [[1, 2], { "}": "]" }] },
      timestamp: 1700000000,
      md5: "0".repeat(32),
    },
    "b-1.5-h\\u0041_0.tar.bz2": {
      version: "1.5",
      name: "b\u00e9",
      build: "hA_0",
      depends: [],
      track_features: "mkl debug",
    },
    "skip-me.tar.bz2": { version: "1.0" },
  },
  "packages.conda": {
    "a-1.0-0.conda": { name: "a", version: "1.0", build: "0", depends: ["b"], sha256: "1".repeat(64) },
  },
  repodata_version: 1,
};

describe("repodata parsing", () => {
  it("the lazy scanner reads the same records as a full parse, whitespace or not", () => {
    for (const text of [JSON.stringify(tricky), JSON.stringify(tricky, null, 2)]) {
      const recs = parseRepodata(text, { channel: "https://c.example/ch/", subdir: "linux-64" });
      expect(recs.map((r) => [r.fn, r.name, r.version, r.build])).toEqual([
        ["a-1.0-0.conda", "a", "1.0", "0"],
        ["b-1.5-h\\u0041_0.tar.bz2", "bé", "1.5", "hA_0"],
      ]);
      const [a, b] = recs;
      expect(a?.depends).toEqual(["b"]);
      expect(a?.sha256).toBe("1".repeat(64));
      expect(a?.url).toBe("https://c.example/ch/linux-64/a-1.0-0.conda");
      expect(b?.trackFeatures).toEqual(["mkl", "debug"]);
      const bytes = Buffer.from(text);
      const scanned = scanRepodata(bytes);
      const [from, to] = scanned.packages;
      const names = [];
      for (let r = from; r < to; r++) {
        const o = r * ROW;
        const s0 = scanned.rows[o + R_NAME] as number;
        names.push(s0 < 0 ? null : bytes.toString("utf8", s0, scanned.rows[o + R_NAME_END]));
      }
      expect(names).toEqual(["a", "b\u00e9", null]);
      const first = from * ROW;
      const slice = bytes.toString("utf8", scanned.rows[first + R_START], scanned.rows[first + R_END]);
      expect(JSON.parse(slice).nested.name).toBe("not-me");
      const source = repodataSource(bytes, { channel: "c", subdir: "linux-64" });
      expect(source.recordsOf("a").map((r) => r.fn)).toEqual(["a-1.0-0.conda"]);
      expect(source.recordsOf("bé").map((r) => r.build)).toEqual(["hA_0"]);
      expect(source.recordsOf("skip-me")).toEqual([]);
    }
  });

  it("falls back to a full parse for unusual layouts and reports invalid JSON", () => {
    const flatOnly = JSON.stringify({
      packages: { "x-1-0.tar.bz2": { name: "x", version: "1", build: "0" } },
    });
    expect(parseRepodata(flatOnly, { channel: "c", subdir: "noarch" }).map((r) => r.name)).toEqual(["x"]);
    try {
      parseRepodata('{"packages": {"x": {"name": "x", ', {
        channel: "c",
        subdir: "noarch",
        source: "x.json",
      });
      expect.unreachable();
    } catch (e) {
      expect(isResolverError(e) && e.code).toBe("E_REPODATA_INVALID");
      expect((e as Error).message).toContain("x.json is not JSON");
    }
  });

  it("reads exactly what JSON.parse reads, for any document and layout", () => {
    // awkward strings: quotes, backslashes, braces, unicode, escapes of every kind
    const str = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 12 }),
      fc.constantFrom("", "}", "{", "]", "[", '"', "\\", '\\"', ",", ":", "name", "version", "é", "\u2028"),
      // backslash runs of every parity right before a closing or an escaped quote
      fc.string({ unit: fc.constantFrom("\\", '"', "a"), maxLength: 8 }),
    );
    const record = fc.record(
      {
        name: fc.oneof(str, fc.constantFrom("numpy", "python", "a"), fc.constant(null), fc.integer()),
        version: fc.oneof(str, fc.constantFrom("1.0", "2.0"), fc.constant(null)),
        build: fc.oneof(str, fc.constant(0)),
        build_number: fc.oneof(
          fc.integer({ min: 0, max: 9 }),
          fc.integer(),
          fc.double(),
          fc.constant("3"),
          fc.constant(1e20),
        ),
        timestamp: fc.oneof(
          fc.maxSafeNat(),
          fc.integer({ min: 1e9, max: 2e9 }),
          fc.double(),
          fc.constant(null),
        ),
        track_features: fc.oneof(fc.constant(""), str, fc.array(str, { maxLength: 2 }), fc.constant(null)),
        depends: fc.oneof(
          fc.array(str, { maxLength: 3 }),
          fc.constant(null),
          str,
          fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
        ),
        extra: fc.jsonValue({ maxDepth: 3 }),
      },
      { requiredKeys: [] },
    );
    const group = fc.dictionary(str, record, { maxKeys: 6 });
    const doc = fc.record(
      {
        info: fc.jsonValue({ maxDepth: 2 }),
        packages: group,
        "packages.conda": group,
        repodata_version: fc.integer(),
      },
      { requiredKeys: [] },
    );
    const layout = fc.constantFrom(undefined, 1, 2, "\t");
    fc.assert(
      fc.property(doc, layout, fc.boolean(), (d, indent, reorderKeys) => {
        // key order inside records varies too (name last, version first...)
        const shuffled = reorderKeys
          ? JSON.parse(JSON.stringify(d), (_k, v) =>
              v && typeof v === "object" && !Array.isArray(v)
                ? Object.fromEntries(Object.entries(v).reverse())
                : v,
            )
          : d;
        const text = JSON.stringify(shuffled, null, indent);
        const want = oracle(JSON.parse(text));
        // the scanner itself reads it (no fallback to the full parse)
        expect(scanRepodata(Buffer.from(text)).count).toBeGreaterThanOrEqual(want.length);
        const got = parseRepodata(text, { channel: "c", subdir: "s" }).map((r) => [
          r.fn,
          r.name,
          r.version,
          r.build,
          r.buildNumber,
          r.depends,
          r.timestamp,
          r.trackFeatures,
        ]);
        expect(got).toEqual(want);
        const source = repodataSource(Buffer.from(text), { channel: "c", subdir: "s" });
        for (const name of new Set(want.map((w) => w[1] as string))) {
          expect(source.recordsOf(name).map((r) => r.fn)).toEqual(
            want.filter((w) => w[1] === name).map((w) => w[0]),
          );
        }
      }),
      { numRuns: 400 },
    );
  });

  it("a detached record keeps its fields when its repodata bytes are reused", () => {
    const bytes = Buffer.from(JSON.stringify(tricky));
    const source = repodataSource(bytes, { channel: "c", subdir: "linux-64" });
    const [kept, left] = [source.recordsOf("a")[0], source.recordsOf("bé")[0]] as RepodataRecord[];
    kept?.detach();
    bytes.fill(0x20); // what a later solve's response would do to a reused buffer
    expect([kept?.sha256, kept?.depends, kept?.buildNumber]).toEqual(["1".repeat(64), ["b"], 0]);
    // a record left attached reads the overwritten bytes (so the detach above is what kept them)
    expect(() => left?.sha256).toThrow(/not valid JSON/);
  });

  it("reports invalid escapes and odd package groups as E_REPODATA_INVALID or as JSON.parse reads them", () => {
    const code = (f: () => unknown) => {
      try {
        f();
        return "none";
      } catch (e) {
        return isResolverError(e) ? e.code : String(e);
      }
    };
    const opts = { channel: "c", subdir: "s", source: "r.json" };
    expect(code(() => repodataSource('{"packages":{"a.tar.bz2":{"name":"x\\q","version":"1"}}}', opts))).toBe(
      "E_REPODATA_INVALID",
    );
    const badVersion = repodataSource('{"packages":{"a.tar.bz2":{"name":"x","version":"1\\u009"}}}', opts);
    expect(code(() => badVersion.recordsOf("x"))).toBe("E_REPODATA_INVALID");
    // a later non-object group wins (nothing); an array group is read like JSON.parse reads it
    expect(
      parseRepodata('{"packages":{"a.tar.bz2":{"name":"x","version":"1"}},"packages":null}', opts).map(
        (r) => r.fn,
      ),
    ).toEqual([]);
    expect(parseRepodata('{"packages":[{"name":"x","version":"1"}]}', opts).map((r) => r.fn)).toEqual(["0"]);
  });

  it("takes the fast path on well-formed repodata and rejects truncated documents", () => {
    const text = JSON.stringify(tricky);
    expect(scanRepodata(Buffer.from(text)).count).toBe(4);
    for (let cut = 1; cut < text.length; cut += 7) {
      expect(() => scanRepodata(Buffer.from(text.slice(0, cut)))).toThrow(/repodata scan/);
    }
    // a BOM is allowed
    expect(parseRepodata(`\ufeff${text}`, { channel: "c", subdir: "s" }).map((r) => r.name)).toEqual([
      "a",
      "bé",
    ]);
  });
});

/** What conda reads: .conda records first, then .tar.bz2 ones not already seen. */
function oracle(d: Record<string, unknown>): unknown[][] {
  const out: unknown[][] = [];
  const group = (g: unknown) =>
    g && typeof g === "object" && !Array.isArray(g) ? (g as Record<string, unknown>) : {};
  const conda = group(d["packages.conda"]);
  const seen = Object.keys(conda).length ? new Set<string>() : null;
  for (const g of [conda, group(d.packages)]) {
    for (const [fn, raw] of Object.entries(g)) {
      const r = raw as Record<string, unknown>;
      if (!r || typeof r !== "object" || Array.isArray(r)) continue;
      if (typeof r.name !== "string" || typeof r.version !== "string" || !r.name || !r.version) continue;
      const build = typeof r.build === "string" ? r.build : "";
      const key = `${r.name}\0${r.version}\0${build}`;
      if (seen?.has(key)) continue;
      seen?.add(key);
      const depends = Array.isArray(r.depends) ? r.depends.filter((x) => typeof x === "string") : [];
      const t = typeof r.timestamp === "number" ? r.timestamp : 0;
      const tf = r.track_features;
      const features =
        typeof tf === "string"
          ? tf.split(/[\s,]+/).filter(Boolean)
          : Array.isArray(tf)
            ? tf.filter((x) => typeof x === "string")
            : [];
      out.push([
        fn,
        r.name,
        r.version,
        build,
        typeof r.build_number === "number" ? r.build_number : 0,
        depends,
        t > 1e11 ? t : t * 1000,
        features,
      ]);
    }
  }
  return out;
}
