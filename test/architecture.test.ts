import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|tsx|js|mjs)$/.test(name)) out.push(p);
  }
  return out;
}

const importRe =
  /(?:import|export)\s[^;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(importRe)].map((m) => m[1] ?? m[2] ?? m[3] ?? "");
}

const packages = readdirSync(join(root, "packages"));

describe("architecture", () => {
  it("core imports no node: modules and no other mlenv package (non-test sources)", () => {
    const bad: string[] = [];
    for (const f of sourceFiles(join(root, "packages/core/src"))) {
      if (f.endsWith(".test.ts")) continue;
      for (const spec of importsOf(f)) {
        if (spec.startsWith("node:") || spec.startsWith("@mlenv/")) bad.push(`${relative(root, f)}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("no package imports another package's src or dist by path", () => {
    const bad: string[] = [];
    for (const pkg of packages) {
      for (const f of sourceFiles(join(root, "packages", pkg, "src"))) {
        for (const spec of importsOf(f)) {
          if (/^@mlenv\/[^/]+\/(src|dist)\//.test(spec) || /\.\.\/\.\.\/[^/]+\/src\//.test(spec)) {
            bad.push(`${relative(root, f)}: ${spec}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("has no import cycles between workspace packages", () => {
    const deps = new Map<string, string[]>();
    for (const pkg of packages) {
      const manifest = JSON.parse(readFileSync(join(root, "packages", pkg, "package.json"), "utf8"));
      deps.set(
        manifest.name,
        Object.keys({ ...manifest.dependencies }).filter((d) => d.startsWith("@mlenv/")),
      );
    }
    const visiting = new Set<string>();
    const done = new Set<string>();
    const cycles: string[] = [];
    const visit = (n: string, path: string[]) => {
      if (done.has(n)) return;
      if (visiting.has(n)) {
        cycles.push([...path, n].join(" -> "));
        return;
      }
      visiting.add(n);
      for (const d of deps.get(n) ?? []) visit(d, [...path, n]);
      visiting.delete(n);
      done.add(n);
    };
    for (const n of deps.keys()) visit(n, []);
    expect(cycles).toEqual([]);
  });
});
