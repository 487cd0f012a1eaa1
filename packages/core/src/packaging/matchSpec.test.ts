import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CondaPackageRecord, condaSpecFromLine, MatchSpec } from "./matchSpec";

const numpy: CondaPackageRecord = {
  name: "numpy",
  version: "1.26.4",
  build: "py311h64a7726_0",
  build_number: 0,
  channel: "https://conda.anaconda.org/conda-forge",
  subdir: "linux-64",
};

describe("MatchSpec", () => {
  it("parses the common forms into a canonical string", () => {
    expect(String(new MatchSpec("numpy 1.26*"))).toBe("numpy=1.26");
    expect(String(new MatchSpec("numpy 1.26.4 py311h64a7726_0"))).toBe("numpy==1.26.4=py311h64a7726_0");
    expect(String(new MatchSpec("conda-forge/linux-64::numpy>=1.20,<2"))).toBe(
      "conda-forge/linux-64::numpy[version='>=1.20,<2']",
    );
    expect(String(new MatchSpec("pytorch=*=cuda*"))).toBe("pytorch[build=cuda*]");
    expect(String(new MatchSpec("pkgs/main::python"))).toBe("defaults::python");
  });

  it("matches records on name, version, build, build_number, channel and subdir", () => {
    expect(new MatchSpec("numpy >=1.20,<2").match(numpy)).toBe(true);
    expect(new MatchSpec("numpy 1.26.*").match(numpy)).toBe(true);
    expect(new MatchSpec("numpy 1.25.*").match(numpy)).toBe(false);
    expect(new MatchSpec("numpy[build=py311*]").match(numpy)).toBe(true);
    expect(new MatchSpec("numpy[build_number='>=1']").match(numpy)).toBe(false);
    expect(new MatchSpec("conda-forge::numpy").match(numpy)).toBe(true);
    expect(new MatchSpec("defaults::numpy").match(numpy)).toBe(false);
    expect(new MatchSpec("numpy[subdir=osx-64]").match(numpy)).toBe(false);
  });

  it("rejects invalid specs with a coded error", () => {
    for (const bad of ["blas [optional", "blas[invalid=1]", "pkg..name", "pkg 4.2.2<6.0.0"]) {
      expect(() => new MatchSpec(bad), bad).toThrow(expect.objectContaining({ code: "E_MATCHSPEC_INVALID" }));
    }
  });

  it("reads environment-file lines", () => {
    expect(condaSpecFromLine("foo=1.0=2")).toBe("foo 1.0 2");
    expect(condaSpecFromLine("foo 1.0")).toBeNull();
  });

  it("property: parse(toString(m)) == m", () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,5}$/);
    const name = fc
      .tuple(word, fc.option(word), fc.constantFrom("-", ".", "_"))
      .map(([a, b, sep]) => (b === null ? a : `${a}${sep}${b}`));
    const version = fc.constantFrom(undefined, "1.2", "1.2.*", ">=1.0,<2", "!=1.5", "1.7|1.8", "~=1.10");
    const build = fc.constantFrom(undefined, "py311_0", "cuda*");
    const channel = fc.constantFrom(undefined, "conda-forge", "defaults", "conda-forge/linux-64");
    fc.assert(
      fc.property(name, version, build, channel, (n, v, b, c) => {
        const m = new MatchSpec(null, {
          name: n,
          ...(v === undefined ? {} : { version: v }),
          ...(b === undefined ? {} : { build: b }),
          ...(c === undefined ? {} : { channel: c }),
        });
        const again = new MatchSpec(m.toString());
        expect(again.toString()).toBe(m.toString());
        expect(again.components).toEqual(m.components);
      }),
    );
  });
});

describe("MatchSpec, repodata-v3 syntax", () => {
  it("parses when=, extras= and flags= and version operators without '='", () => {
    const v3 = { syntax: "v3" } as const;
    expect(String(new MatchSpec("numpy[version<2]", {}, v3))).toBe("numpy[version='<2']");
    const m = new MatchSpec("pkg[when='python >=3.6 and __unix', extras=[b, a], flags=cpu]", {}, v3);
    expect(m.components).toEqual({
      name: "pkg",
      when: "python >=3.6 and __unix",
      extras: "['a', 'b']",
      flags: "['cpu']",
    });
    expect(String(m)).toBe("pkg[when='python >=3.6 and __unix',extras=['a', 'b'],flags=['cpu']]");
    for (const bad of [
      "pkg[build=0,junk]",
      "package[build=0][version=2]",
      "python[when='package[when='__unix']']",
      "foo if python>=3.6",
    ]) {
      expect(() => new MatchSpec(bad, {}, v3), bad).toThrow(
        expect.objectContaining({ code: "E_MATCHSPEC_INVALID" }),
      );
    }
  });
});
