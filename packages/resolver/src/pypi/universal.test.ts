import { describe, expect, it } from "vitest";
import { isResolverError } from "../errors";
import type { PipCandidateSource } from "./provider";
import { resolvePipUniversal } from "./resolve";
import { defaultPipSemantics } from "./semantics";

/** An in-memory universe: name → version → { requires, requiresPython }. */
function universe(
  projects: Record<string, Record<string, { requires?: string[]; requiresPython?: string }>>,
): PipCandidateSource {
  return {
    async releases(name) {
      const versions = projects[name];
      if (!versions) return null;
      return Object.entries(versions).map(([version, m]) => ({
        version,
        yanked: false,
        ...(m.requiresPython ? { requiresPython: m.requiresPython } : {}),
        artifact: {
          project: name,
          filename: `${name}-${version}-py3-none-any.whl`,
          url: `file:///x/${name}-${version}-py3-none-any.whl`,
          yanked: false as const,
          coreMetadata: true,
          index: "mem",
        },
      }));
    },
    async metadata(name, release) {
      const m = projects[name]?.[release.version] ?? {};
      return {
        requiresDist: m.requires ?? [],
        ...(m.requiresPython ? { requiresPython: m.requiresPython } : {}),
      };
    },
  };
}

const environments = ["linux-64", "osx-arm64", "win-64"].flatMap((platform) =>
  ["3.11", "3.12", "3.14"].map((python) => ({ target: { python, platform } })),
);

async function lock(
  requirements: string[],
  source: PipCandidateSource,
  extra: { resolution?: "highest" | "lowest-direct" } = {},
) {
  const out = await resolvePipUniversal({
    requirements,
    source,
    semantics: defaultPipSemantics,
    environments,
    ignoreRequiresPythonUpperBound: true,
    ...extra,
  });
  return out.forks.map((f) => ({
    platforms: [...new Set(f.environments.map((e) => e.sys_platform))].sort(),
    pythons: [...new Set(f.environments.map((e) => e.python_version))].sort(),
    pins: f.packages.map((p) => `${p.name}==${p.version}`),
  }));
}

async function unsatisfiable(requirements: string[], source: PipCandidateSource): Promise<string[]> {
  try {
    await lock(requirements, source);
  } catch (e) {
    if (isResolverError(e) && e.code === "E_UNSATISFIABLE") return e.explanation ?? [];
    throw e;
  }
  throw new Error("expected E_UNSATISFIABLE");
}

const c12 = { "1.0.0": {}, "2.0.0": {} };

describe("resolvePipUniversal", () => {
  it("does not fork on markers of requirements from different parents, so they must agree", async () => {
    const why = await unsatisfiable(
      ["a==1.0.0", "b==1.0.0"],
      universe({
        a: { "1.0.0": { requires: ["c<2.0.0 ; sys_platform == 'linux'"] } },
        b: { "1.0.0": { requires: ["c>=2.0.0 ; sys_platform == 'darwin'"] } },
        c: c12,
      }),
    );
    expect(why.join("\n")).toMatch(/a==1\.0\.0 requires c<2\.0\.0/);
    expect(why.join("\n")).toMatch(/b==1\.0\.0 requires c>=2\.0\.0/);
  });

  it("does not fork on root requirements with disjoint markers on different names", async () => {
    await unsatisfiable(
      ["a==1.0.0 ; sys_platform == 'linux'", "b==1.0.0 ; sys_platform == 'darwin'"],
      universe({
        a: { "1.0.0": { requires: ["c<2.0.0"] } },
        b: { "1.0.0": { requires: ["c>=2.0.0"] } },
        c: c12,
      }),
    );
  });

  it("forks on sibling requirements on one name with disjoint markers", async () => {
    const forks = await lock(
      ["a"],
      universe({
        a: {
          "1.0.0": { requires: ["c<2.0.0 ; sys_platform == 'linux'", "c>=2.0.0 ; sys_platform == 'darwin'"] },
        },
        c: c12,
      }),
    );
    expect(forks).toEqual([
      { platforms: ["linux"], pythons: ["3.11", "3.12", "3.14"], pins: ["a==1.0.0", "c==1.0.0"] },
      { platforms: ["darwin"], pythons: ["3.11", "3.12", "3.14"], pins: ["a==1.0.0", "c==2.0.0"] },
      { platforms: ["win32"], pythons: ["3.11", "3.12", "3.14"], pins: ["a==1.0.0"] },
    ]);
  });

  it("keeps a fork after rejecting the version that caused it (uv's first lock of preferences-dependent-forking-conflicting)", async () => {
    const forks = await lock(
      ["cleaver", "foo", "bar"],
      universe({
        cleaver: {
          "2.0.0": {
            requires: [
              "unrelated-dep==1 ; sys_platform == 'linux'",
              "unrelated-dep==2 ; sys_platform != 'linux'",
              "reject-cleaver-2",
            ],
          },
          "1.0.0": { requires: ["foo==1 ; sys_platform == 'linux'", "bar==1 ; sys_platform != 'linux'"] },
        },
        "reject-cleaver-2": { "1.0.0": { requires: ["unrelated-dep==3"] } },
        "unrelated-dep": { "1.0.0": {}, "2.0.0": {}, "3.0.0": {} },
        foo: { "1.0.0": { requires: ["bar==2"] }, "2.0.0": {} },
        bar: { "1.0.0": {}, "2.0.0": {} },
      }),
    );
    expect(forks.map((f) => [f.platforms, f.pins])).toEqual([
      [["linux"], ["bar==2.0.0", "cleaver==1.0.0", "foo==1.0.0"]],
      [
        ["darwin", "win32"],
        ["bar==1.0.0", "cleaver==1.0.0", "foo==2.0.0"],
      ],
    ]);
  });

  it("needs Requires-Python to hold in every environment of a fork", async () => {
    const forks = await lock(
      ["a"],
      universe({ a: { "1.0.0": { requiresPython: ">=3.8" }, "2.0.0": { requiresPython: ">=3.12" } } }),
    );
    expect(forks.map((f) => f.pins)).toEqual([["a==1.0.0"]]);
  });

  it("splits by root markers under lowest-direct, so a package is direct only where its marker holds", async () => {
    const forks = await lock(
      ["root", "dep>=3 ; python_version >= '3.12'"],
      universe({
        root: { "1.0.0": { requires: ["dep>=2.8"] } },
        dep: { "2.8": {}, "3.0": {}, "3.1": {} },
      }),
      { resolution: "lowest-direct" },
    );
    expect(forks.map((f) => [f.pythons, f.pins])).toEqual([
      [["3.11"], ["dep==3.1", "root==1.0.0"]],
      [
        ["3.12", "3.14"],
        ["dep==3.0", "root==1.0.0"],
      ],
    ]);
  });
});
