import { describe, expect, it } from "vitest";
import { isResolverError } from "../errors";
import { parseRepodata } from "./record";
import { scanRepodata } from "./scan";

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
      const scanned = scanRepodata(text);
      expect(scanned.packages.map((r) => r.name)).toEqual(["a", "bé", ""]);
      const first = scanned.packages[0];
      expect(JSON.parse(text.slice(first?.start, first?.end)).nested.name).toBe("not-me");
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
});
