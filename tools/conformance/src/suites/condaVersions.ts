import { CondaVersion, type CondaVersionPart, VersionSpec } from "@mlenv/core";
import { each, expectEqual, expectThrows, jsonFileSuite } from "../suite";

const FILE = "conda_versions.json";
type Case = Record<string, unknown>;
type Data = Record<string, { cases: Case[] } | Record<string, unknown>>;

const unwrap = (x: unknown): string =>
  typeof x === "string" ? x : (Object.values(x as Record<string, string>)[0] as string);
const parts = (cs: readonly (readonly CondaVersionPart[])[]) =>
  cs.map((c) => c.map((p) => (p === Number.POSITIVE_INFINITY ? "$inf" : p)));

function run(section: string, c: Case): unknown {
  switch (section) {
    case "version_parse": {
      const v = CondaVersion.parse(unwrap(c.input));
      expectEqual(v.toString(), c.str, "str");
      expectEqual(parts(v.version), c.components, "components");
      return expectEqual(parts(v.local), c.local, "local");
    }
    case "version_invalid":
      return expectThrows(() => new CondaVersion(unwrap(c.input)), JSON.stringify(c.input));
    case "normalized_version":
      return expectEqual(CondaVersion.parse(unwrap(c.input)).toString(), c.str, "str");
    case "version_comparisons": {
      const l = CondaVersion.parse(unwrap(c.left));
      const r = CondaVersion.parse(unwrap(c.right));
      const got = {
        eq: l.equals(r),
        ne: !l.equals(r),
        lt: l.compare(r) < 0,
        gt: l.compare(r) > 0,
        le: l.compare(r) <= 0,
        ge: l.compare(r) >= 0,
        startswith: l.startsWith(r),
      }[c.op as string];
      return expectEqual(got, c.expected, `${c.left} ${c.op} ${c.right}`);
    }
    case "version_spec_parse": {
      if ("error" in c) return expectThrows(() => new VersionSpec(unwrap(c.input)), JSON.stringify(c.input));
      const s = VersionSpec.parse(unwrap(c.input));
      expectEqual(s.toString(), c.spec, "spec");
      return expectEqual(s.isExact, c.is_exact, "is_exact");
    }
    case "version_spec_equality":
      return expectEqual(
        new VersionSpec(c.left as string).equals(new VersionSpec(c.right as string)),
        c.equal,
        `${c.left} == ${c.right}`,
      );
    case "version_spec_match":
      return expectEqual(
        VersionSpec.parse(c.spec as string).match(c.version as string),
        c.expected,
        `${c.spec} ~ ${c.version}`,
      );
    case "ver_eval":
      if (typeof c.expected === "object")
        return expectThrows(
          () => new VersionSpec(c.spec as string).match(c.version as string),
          c.spec as string,
        );
      return expectEqual(
        VersionSpec.parse(c.spec as string).match(c.version as string),
        c.expected,
        `${c.version} ~ ${c.spec}`,
      );
    default:
      throw new Error(`no handler for section ${section}`);
  }
}

export const condaVersionsSuite = jsonFileSuite<Data>("conda-versions", FILE, (d, t) => {
  const ordering = d.ordering as Record<string, unknown>;
  for (const [name, list] of Object.entries(ordering)) {
    if (!Array.isArray(list)) continue;
    const vs = (list as string[]).map((s) => CondaVersion.parse(s));
    const sorted = [...vs].sort((a, b) => a.compare(b)).map(String);
    // One case per entry: it sorts no later than the next, and sorting leaves it in place.
    each(vs, (v, i) =>
      t.case(`ordering.${name}`, i, () => {
        const next = vs[i + 1];
        if (next !== undefined) expectEqual(v.compare(next) <= 0, true, `${list[i]} <= ${list[i + 1]}`);
        expectEqual(sorted[i], v.toString(), `sorted position of ${list[i]}`);
      }),
    );
  }
  for (const [section, body] of Object.entries(d)) {
    if (section === "header" || section === "notes" || section === "ordering") continue;
    const cases = (body as { cases?: Case[] }).cases;
    if (cases === undefined) continue;
    each(cases, (c, i) => t.case(section, i, () => void run(section, c)));
  }
});
