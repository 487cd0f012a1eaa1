import { describe, expect, it } from "vitest";
import { condaDefinition } from "../../test/definitions";
import { parseDefinition } from "../spec/definition";
import { diffDefinitions, formatDiff } from "./diff";

const a = condaDefinition(
  "a",
  ["python=3.10", "numpy=1.17.0", "pandas", { pip: ["requests==2.31.0", "Flask==2.0"] }],
  { environmentVariables: { KEEP: "1", GONE: "x", CHANGE: "old" } },
);
const b = condaDefinition(
  "b",
  [
    "python = 3.10",
    "numpy>=1.18",
    "scipy=1.3",
    { pip: ["flask == 2.0", "--index-url http://127.0.0.1:9/simple"] },
  ],
  {
    environmentVariables: { KEEP: "1", CHANGE: "new", ADDED: "y" },
    docker: { baseImage: "ubuntu:24.04", shmSize: "4g" },
    channels: ["defaults", "conda-forge"],
  },
);

describe("diffDefinitions", () => {
  it("reports no differences for normalised-equal definitions", () => {
    const x = parseDefinition(a);
    const y = parseDefinition({
      ...a,
      ...condaDefinition(a.name, [
        { pip: ["flask==2.0", "Requests == 2.31.0"] },
        "pandas",
        "NumPy=1.17.0",
        "python=3.10",
      ]),
    });
    const d = diffDefinitions(x, y);
    expect(d.equal).toBe(true);
    expect(formatDiff(d)).toBe("no differences\n");
  });

  it("lists added, removed and changed packages with old and new constraints", () => {
    const d = diffDefinitions(parseDefinition(a), parseDefinition(b));
    expect(d.equal).toBe(false);
    expect(d.conda).toEqual([
      {
        name: "numpy",
        change: "changed",
        oldConstraint: "=1.17.0",
        newConstraint: ">=1.18",
        old: ["numpy=1.17.0"],
        new: ["numpy[version='>=1.18']"],
      },
      {
        name: "pandas",
        change: "removed",
        oldConstraint: null,
        newConstraint: null,
        old: ["pandas"],
        new: [],
      },
      {
        name: "scipy",
        change: "added",
        oldConstraint: null,
        newConstraint: "=1.3",
        old: [],
        new: ["scipy=1.3"],
      },
    ]);
    expect(d.pip).toEqual([
      {
        name: "requests",
        change: "removed",
        oldConstraint: "==2.31.0",
        newConstraint: null,
        old: ["requests==2.31.0"],
        new: [],
      },
    ]);
    expect(d.channels).toEqual({ old: ["conda-forge", "defaults"], new: ["defaults", "conda-forge"] });
    expect(d.pipOptions).toEqual({ old: [], new: ["--index-url http://127.0.0.1:9/simple"] });
    expect(d.docker.map((c) => [c.path, c.old, c.new])).toEqual([
      ["docker.baseImage", expect.any(String), "ubuntu:24.04"],
      ["docker.shmSize", "2g", "4g"],
    ]);
    expect(d.environmentVariables).toEqual([
      { name: "ADDED", change: "added", old: null, new: "y" },
      { name: "CHANGE", change: "changed", old: "old", new: "new" },
      { name: "GONE", change: "removed", old: "x", new: null },
    ]);
    expect(d.other).toEqual([{ path: "name", old: "a", new: "b" }]);
  });

  it("formats the diff as text", () => {
    const text = formatDiff(diffDefinitions(parseDefinition(a), parseDefinition(b)));
    expect(text).toContain("conda packages:\n  ~ numpy: =1.17.0 -> >=1.18\n  - pandas\n  + scipy=1.3\n");
    expect(text).toContain("pip packages:\n  - requests==2.31.0\n");
    expect(text).toContain("channels: conda-forge, defaults -> defaults, conda-forge\n");
    expect(text).toContain('  ~ docker.shmSize: "2g" -> "4g"\n');
    expect(text).toContain('environment variables:\n  + ADDED="y"\n  ~ CHANGE: "old" -> "new"\n  - GONE\n');
    expect(text).toContain('other:\n  ~ name: "a" -> "b"\n');
  });

  it("summarises a changed Dockerfile by size", () => {
    const x = parseDefinition({ name: "x", docker: { baseDockerfile: "FROM a\nRUN b\n" } });
    const y = parseDefinition({ name: "x", docker: { baseDockerfile: "FROM a\nRUN c\nRUN d\n" } });
    expect(formatDiff(diffDefinitions(x, y))).toBe(
      "docker:\n  ~ docker.baseDockerfile: <13 bytes, 3 lines> -> <19 bytes, 4 lines>\n",
    );
  });
});
