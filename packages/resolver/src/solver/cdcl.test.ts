import { describe, expect, it } from "vitest";
import { type ClauseOrigin, type Dependencies, type DependencyProvider, groupOneOf, solveCdcl } from "./cdcl";

/** A tiny universe: packages with integer versions; requirements are [name, allowed versions]. */
function universe(pkgs: Record<string, Record<number, [string, number[]][]>>) {
  const names = Object.keys(pkgs);
  const solvables: { name: number; version: number; deps: [string, number[]][] }[] = [];
  const byName: number[][] = names.map(() => []);
  names.forEach((n, ni) => {
    const versions = Object.keys(pkgs[n] ?? {})
      .map(Number)
      .sort((a, b) => b - a);
    for (const v of versions) {
      byName[ni]?.push(solvables.length);
      solvables.push({ name: ni, version: v, deps: pkgs[n]?.[v] ?? [] });
    }
  });
  const reqs: [string, number[]][] = [];
  const req = (name: string, versions: number[]) => reqs.push([name, versions]) - 1;
  const provider: DependencyProvider = {
    nameOf: (s) => solvables[s]?.name ?? -1,
    solvablesOfName: (n) => byName[n] ?? [],
    candidates: (r) => {
      const [name, vs] = reqs[r] ?? ["", []];
      const ni = names.indexOf(name);
      return (byName[ni] ?? []).filter((s) => vs.includes(solvables[s]?.version ?? -1));
    },
    dependencies: (s): Dependencies => ({
      requires: (solvables[s]?.deps ?? []).map(([n, vs]) => req(n, vs)),
      constrains: [],
    }),
  };
  const picked = (ids: number[]) =>
    Object.fromEntries(ids.map((s) => [names[solvables[s]?.name ?? 0], solvables[s]?.version]));
  return { provider, req, picked };
}

describe("solveCdcl", () => {
  it("picks the newest versions when nothing conflicts", async () => {
    const u = universe({ a: { 1: [["b", [1, 2]]], 2: [["b", [1, 2]]] }, b: { 1: [], 2: [] } });
    const out = await solveCdcl(u.provider, [u.req("a", [1, 2])]);
    expect(out.ok).toBe(true);
    if (out.ok) expect(u.picked(out.solvables)).toEqual({ a: 2, b: 2 });
  });

  it("decides root requirements first with rootsFirst, and never chooses what allow rules out", async () => {
    // a dependency decided before the request it limits: b's d (2 candidates, fewer than a's
    // 3) is decided first, d 2 pulls c 2, which holds a down to 1 unless a is decided first
    const u = universe({
      a: { 1: [["c", [1, 2]]], 2: [["c", [1]]], 3: [["c", [1]]] },
      b: { 1: [["d", [1, 2]]] },
      c: { 1: [], 2: [] },
      d: { 1: [["c", [1, 2]]], 2: [["c", [2]]] },
    });
    const roots = [u.req("a", [1, 2, 3]), u.req("b", [1])];
    const plain = await solveCdcl(u.provider, roots);
    expect(plain.ok && u.picked(plain.solvables)).toEqual({ a: 1, b: 1, c: 2, d: 2 });
    const first = await solveCdcl(u.provider, roots, { rootsFirst: true });
    expect(first.ok && u.picked(first.solvables)).toEqual({ a: 3, b: 1, c: 1, d: 1 });
    // solvable 0 is a 3, 1 is a 2: without them the answer falls back to a 1
    const allowed = await solveCdcl(u.provider, roots, { rootsFirst: true, allow: (s) => s > 1 });
    expect(allowed.ok && u.picked(allowed.solvables)).toEqual({ a: 1, b: 1, c: 2, d: 2 });
    const none = await solveCdcl(u.provider, [u.req("a", [3])], { allow: (s) => s !== 0 });
    expect(none.ok).toBe(false);
  });

  it("backtracks out of a newest choice that conflicts deeper down", async () => {
    const u = universe({
      a: { 1: [["c", [1]]], 2: [["c", [2]]] },
      b: { 1: [["c", [1]]] },
      c: { 1: [], 2: [] },
    });
    const out = await solveCdcl(u.provider, [u.req("a", [1, 2]), u.req("b", [1])]);
    expect(out.ok).toBe(true);
    if (out.ok) expect(u.picked(out.solvables)).toEqual({ a: 1, b: 1, c: 1 });
  });

  it("learns across many versions (pigeonhole-like conflict) and reports the clauses involved", async () => {
    const pkgs: Record<string, Record<number, [string, number[]][]>> = { x: {}, y: { 1: [] } };
    for (let v = 1; v <= 50; v++) (pkgs.x as Record<number, [string, number[]][]>)[v] = [["y", [2]]];
    const u = universe(pkgs);
    const out = await solveCdcl(u.provider, [u.req("x", []), u.req("y", [1])]);
    expect(out.ok).toBe(false);
    const out2 = await solveCdcl(u.provider, [u.req("x", [7]), u.req("y", [1])]);
    expect(out2.ok).toBe(false);
    if (!out2.ok) {
      const kinds = out2.core.map((c) => c.kind).sort();
      expect(kinds).toContain("root");
      expect(kinds).toContain("requires");
    }
  });

  it("solves a satisfiable chain needing deep backjumps", async () => {
    // d pins e to 1; newest of a..c all want e 2 except their oldest version
    const pkgs: Record<string, Record<number, [string, number[]][]>> = {
      e: { 1: [], 2: [] },
      d: { 1: [["e", [1]]] },
    };
    for (const n of ["a", "b", "c"]) pkgs[n] = { 1: [["e", [1, 2]]], 2: [["e", [2]]], 3: [["e", [2]]] };
    const u = universe(pkgs);
    const out = await solveCdcl(u.provider, [
      u.req("a", [1, 2, 3]),
      u.req("b", [1, 2, 3]),
      u.req("c", [1, 2, 3]),
      u.req("d", [1]),
    ]);
    expect(out.ok).toBe(true);
    if (out.ok) expect(u.picked(out.solvables)).toEqual({ a: 1, b: 1, c: 1, d: 1, e: 1 });
  });

  it("awaits asynchronous providers", async () => {
    const u = universe({ a: { 1: [["b", [1]]] }, b: { 1: [] } });
    const p: DependencyProvider = {
      ...u.provider,
      dependencies: async (s) => u.provider.dependencies(s) as Dependencies,
    };
    const out = await solveCdcl(p, [u.req("a", [1])]);
    expect(out.ok && u.picked(out.solvables)).toEqual({ a: 1, b: 1 });
  });

  it("prioritises a package whose candidates keep being rejected (uv's wrong-backtracking case)", async () => {
    const b: Record<number, [string, number[]][]> = { 1: [["old", [1]]] };
    for (let v = 20; v <= 29; v++) b[v] = [["a", [1]]];
    const u = universe({ a: { 1: [], 2: [] }, b, old: { 1: [] } });
    const plain = await solveCdcl(u.provider, [
      u.req("a", [1, 2]),
      u.req("b", [1, ...Object.keys(b).map(Number)]),
    ]);
    expect(plain.ok && u.picked(plain.solvables)).toEqual({ a: 2, b: 1, old: 1 });
    const prioritised = await solveCdcl(
      u.provider,
      [u.req("a", [1, 2]), u.req("b", [1, ...Object.keys(b).map(Number)])],
      { prioritizeAfterRejections: 5 },
    );
    expect(prioritised.ok && u.picked(prioritised.solvables)).toEqual({ a: 1, b: 29 });
  });
});

describe("groupOneOf", () => {
  it("groups the oneOf clauses of a conflict by key, labels de-duplicated, first seen first", () => {
    const names = ["numpy", "numpy", "numpy", "python", "python"];
    const core: ClauseOrigin[] = [
      { kind: "oneOf", a: 3, b: 4 },
      { kind: "root", requirement: 0 },
      { kind: "oneOf", a: 1, b: 0 },
      { kind: "oneOf", a: 0, b: 2 },
      { kind: "learned", from: [0] },
    ];
    const groups = groupOneOf(
      core,
      (s) => names[s] as string,
      (s) => `${names[s]}-${s}`,
    );
    expect([...groups]).toEqual([
      ["python", ["python-3", "python-4"]],
      ["numpy", ["numpy-1", "numpy-0", "numpy-2"]],
    ]);
    expect(groupOneOf([{ kind: "root", requirement: 0 }], String, String).size).toBe(0);
  });
});
