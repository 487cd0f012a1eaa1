import { canonicalJson, type JsonValue } from "../hash/canonicalJson";
import { normalizeCondaEnvironment } from "../hash/normalize";
import { formatPath } from "../internal/path";
import { canonicalizeName } from "../packaging/version";
import { type EnvironmentDefinition, toReferenceJson } from "../spec/definition";

/** A package added, removed or changed between two definitions. */
export interface PackageChange {
  /** Package key: conda `channel::name` or name; pip PEP 503 name (or the URL/path line). */
  name: string;
  change: "added" | "removed" | "changed";
  /** Constraint before (e.g. `=1.17.0`, `>=1.3`, `==2.0; python_version<'3.12'`); null when absent. */
  oldConstraint: string | null;
  newConstraint: string | null;
  /** Full normalised specs before/after. */
  old: string[];
  new: string[];
}

/** A changed value at a JSON path. */
export interface FieldChange {
  path: string;
  old: JsonValue | undefined;
  new: JsonValue | undefined;
}

export interface EnvVarChange {
  name: string;
  change: "added" | "removed" | "changed";
  old: string | null;
  new: string | null;
}

export interface DefinitionDiff {
  equal: boolean;
  conda: PackageChange[];
  pip: PackageChange[];
  channels: { old: string[]; new: string[] } | null;
  pipOptions: { old: string[]; new: string[] } | null;
  docker: FieldChange[];
  environmentVariables: EnvVarChange[];
  /** Everything else (name, version, tags, python settings, conda variables, spark, r, ...). */
  other: FieldChange[];
}

function splitConda(spec: string): [string, string] {
  const m = /^((?:[^\s:]+::)?[A-Za-z0-9_.+-]+)(.*)$/s.exec(spec);
  if (!m) return [spec, ""];
  // Show conda's bracket form `[version='>=1.3']` as the plain constraint `>=1.3`.
  const constraint = m[2]!.trim().replace(/^\[version='([^']*)'\]$/, "$1");
  return [m[1]!.toLowerCase(), constraint];
}

function splitPip(line: string): [string, string] {
  if (line.startsWith("-e ")) return [line, ""];
  const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$/s.exec(line);
  if (!m || /^[a-z][a-z0-9+.-]*:\/\//i.test(line)) return [line, ""];
  return [canonicalizeName(m[1]!.trim()), m[2]!.trim()];
}

function group(
  specs: string[],
  split: (s: string) => [string, string],
): Map<string, { specs: string[]; constraint: string }> {
  const out = new Map<string, { specs: string[]; constraint: string }>();
  for (const s of specs) {
    const [name, constraint] = split(s);
    const g = out.get(name);
    if (g) {
      g.specs.push(s);
      g.constraint = [g.constraint, constraint].filter(Boolean).join(" | ");
    } else out.set(name, { specs: [s], constraint });
  }
  return out;
}

function diffPackages(a: string[], b: string[], split: (s: string) => [string, string]): PackageChange[] {
  const ga = group(a, split);
  const gb = group(b, split);
  const names = [...new Set([...ga.keys(), ...gb.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const out: PackageChange[] = [];
  for (const name of names) {
    const x = ga.get(name);
    const y = gb.get(name);
    if (x && y && canonicalJson(x.specs) === canonicalJson(y.specs)) continue;
    out.push({
      name,
      change: !x ? "added" : !y ? "removed" : "changed",
      oldConstraint: x ? x.constraint || null : null,
      newConstraint: y ? y.constraint || null : null,
      old: x?.specs ?? [],
      new: y?.specs ?? [],
    });
  }
  return out;
}

function flatten(value: unknown, path: (string | number)[], out: Map<string, JsonValue>): void {
  if (value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) flatten(v, [...path, k], out);
    return;
  }
  out.set(formatPath(path), value as JsonValue);
}

function diffFields(a: unknown, b: unknown, base: (string | number)[]): FieldChange[] {
  const fa = new Map<string, JsonValue>();
  const fb = new Map<string, JsonValue>();
  flatten(a, base, fa);
  flatten(b, base, fb);
  const out: FieldChange[] = [];
  for (const path of [...new Set([...fa.keys(), ...fb.keys()])].sort()) {
    const x = fa.get(path);
    const y = fb.get(path);
    if (x !== undefined && y !== undefined && canonicalJson(x) === canonicalJson(y)) continue;
    out.push({ path, old: x, new: y });
  }
  return out;
}

/** A structured diff of two definitions (packages compared in normalised form). */
export function diffDefinitions(a: EnvironmentDefinition, b: EnvironmentDefinition): DefinitionDiff {
  const na = normalizeCondaEnvironment(a.python.condaDependencies);
  const nb = normalizeCondaEnvironment(b.python.condaDependencies);
  const conda = diffPackages(na.conda, nb.conda, splitConda);
  const pip = diffPackages(na.pip, nb.pip, splitPip);
  const channels =
    canonicalJson(na.channels) === canonicalJson(nb.channels) ? null : { old: na.channels, new: nb.channels };
  const pipOptions =
    canonicalJson(na.pipOptions) === canonicalJson(nb.pipOptions)
      ? null
      : { old: na.pipOptions, new: nb.pipOptions };
  const docker = diffFields(toReferenceJson(a).docker, toReferenceJson(b).docker, ["docker"]);
  const environmentVariables: EnvVarChange[] = [];
  const ea = a.environmentVariables;
  const eb = b.environmentVariables;
  for (const name of [...new Set([...Object.keys(ea), ...Object.keys(eb)])].sort()) {
    const x = Object.hasOwn(ea, name) ? ea[name]! : null;
    const y = Object.hasOwn(eb, name) ? eb[name]! : null;
    if (x === y) continue;
    environmentVariables.push({
      name,
      change: x === null ? "added" : y === null ? "removed" : "changed",
      old: x,
      new: y,
    });
  }
  const rest = (d: EnvironmentDefinition, n: typeof na) => {
    const json = toReferenceJson(d);
    const python = { ...(json.python as Record<string, unknown>) };
    python.condaDependencies = { variables: n.variables, extra: n.extra };
    const { docker: _d, environmentVariables: _e, ...others } = json;
    return { ...others, python };
  };
  const other = diffFields(rest(a, na), rest(b, nb), []);
  const equal =
    conda.length + pip.length + docker.length + environmentVariables.length + other.length === 0 &&
    channels === null &&
    pipOptions === null;
  return { equal, conda, pip, channels, pipOptions, docker, environmentVariables, other };
}

function show(v: JsonValue | undefined): string {
  if (v === undefined) return "(absent)";
  if (typeof v === "string" && (v.includes("\n") || v.length > 80)) {
    return `<${new TextEncoder().encode(v).length} bytes, ${v.split("\n").length} lines>`;
  }
  return JSON.stringify(v);
}

function pkgLine(c: PackageChange): string {
  if (c.change === "added") return `  + ${c.new.join(", ")}`;
  if (c.change === "removed") return `  - ${c.old.join(", ")}`;
  return `  ~ ${c.name}: ${c.oldConstraint ?? "(any)"} -> ${c.newConstraint ?? "(any)"}`;
}

/** Render a diff as text, one section per kind of change; "no differences" when equal. */
export function formatDiff(diff: DefinitionDiff): string {
  if (diff.equal) return "no differences\n";
  const out: string[] = [];
  if (diff.conda.length) out.push("conda packages:", ...diff.conda.map(pkgLine));
  if (diff.pip.length) out.push("pip packages:", ...diff.pip.map(pkgLine));
  if (diff.channels)
    out.push(
      `channels: ${diff.channels.old.join(", ") || "(none)"} -> ${diff.channels.new.join(", ") || "(none)"}`,
    );
  if (diff.pipOptions)
    out.push(
      `pip options: ${diff.pipOptions.old.join(" ") || "(none)"} -> ${diff.pipOptions.new.join(" ") || "(none)"}`,
    );
  if (diff.docker.length)
    out.push("docker:", ...diff.docker.map((c) => `  ~ ${c.path}: ${show(c.old)} -> ${show(c.new)}`));
  if (diff.environmentVariables.length) {
    out.push("environment variables:");
    for (const e of diff.environmentVariables) {
      if (e.change === "added") out.push(`  + ${e.name}=${JSON.stringify(e.new)}`);
      else if (e.change === "removed") out.push(`  - ${e.name}`);
      else out.push(`  ~ ${e.name}: ${JSON.stringify(e.old)} -> ${JSON.stringify(e.new)}`);
    }
  }
  if (diff.other.length)
    out.push("other:", ...diff.other.map((c) => `  ~ ${c.path}: ${show(c.old)} -> ${show(c.new)}`));
  return `${out.join("\n")}\n`;
}
