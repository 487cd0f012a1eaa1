import { type ContainsOptions, Specifier, SpecifierSet, Version } from "@mlenv/core";
import { each, eachSectionCase, expectEqual, expectThrows, jsonFileSuite } from "../suite";

const FILE = "pep440_specifiers.json";

type Item = string | { $version_object: string };
type Case = Record<string, unknown> & { expected: unknown };
interface Data {
  sections: { name: string; cases: Case[] }[];
  reference_computed_matrix: {
    items: string[];
    rows: {
      spec: string;
      spec_prereleases: boolean | null;
      contains: Record<string, string>;
      filter: Record<string, string[]>;
    }[];
  };
}

const item = (x: unknown): string | Version =>
  typeof x === "string" ? x : Version.parse((x as { $version_object: string }).$version_object);
const items = (xs: unknown): (string | Version)[] => (xs as Item[]).map(item);

const pre = (x: unknown): boolean | null => (x === undefined ? null : (x as boolean | null));

/**
 * Filter the case's input with `by` (under the case's filter pre-release policy). Items keep their
 * identity through filter: the kept ones map back to the input JSON values.
 */
function filteredInput(c: Case, by: Specifier | SpecifierSet): unknown[] {
  const input = c.input as unknown[];
  const parsed = items(input);
  const kept = new Set(by.filter(parsed, { prereleases: pre(c.filter_prereleases) }));
  return parsed.flatMap((p, i) => (kept.has(p) ? [input[i]] : []));
}

/** The case's version (as written) is in `by` under `options` exactly when the case expects it. */
function expectContains(c: Case, by: Specifier | SpecifierSet, options: ContainsOptions = {}): true {
  return expectEqual(
    by.contains(c.version as string, options),
    c.expected,
    `${c.spec} contains ${c.version}`,
  );
}

function runSection(name: string, c: Case): unknown {
  const spec = c.spec as string;
  switch (name) {
    case "specifier_parse":
      if (c.expected) new Specifier(spec);
      else expectThrows(() => new Specifier(spec), spec);
      return;
    case "specifier_str":
      return expectEqual(new Specifier(spec).toString(), c.expected, spec);
    case "specifierset_str":
      return expectEqual(new SpecifierSet(spec).toString(), c.expected, spec);
    case "specifier_equality": {
      const l = c.left as string;
      const r = c.right as string;
      expectEqual(new Specifier(l).equals(new Specifier(r)), c.expected, `${l} == ${r}`);
      expectEqual(new SpecifierSet(l).equals(new SpecifierSet(r)), c.expected, `set ${l} == ${r}`);
      return;
    }
    case "specifier_operator":
      return expectEqual(new Specifier(spec).operator, c.expected, spec);
    case "specifier_version_attr":
      return expectEqual(new Specifier(spec).version, c.expected, spec);
    case "specifier_contains_prereleases_true":
    case "specifier_contains_invalid_version":
    case "specifier_arbitrary_equality_normalization": {
      const s = new Specifier(spec, true);
      expectEqual(s.contains(item(c.version)), c.expected, `${spec} contains ${JSON.stringify(c.version)}`);
      if (typeof c.version === "string" && Version.tryParse(c.version) !== null && !spec.startsWith("===")) {
        expectEqual(
          s.contains(Version.parse(c.version)),
          c.expected,
          `${spec} contains Version(${c.version})`,
        );
      }
      return;
    }
    case "specifier_arbitrary_equality":
    case "specifier_contains_short_release":
      return expectEqual(
        new Specifier(spec).contains(item(c.version)),
        c.expected,
        `${spec} contains ${c.version}`,
      );
    case "specifier_prereleases_setter":
    case "specifierset_prereleases_setter": {
      const s = name.startsWith("specifierset")
        ? new SpecifierSet(spec, pre(c.initial_prereleases))
        : new Specifier(spec, pre(c.initial_prereleases));
      const r0 = s.contains(c.version as string);
      s.prereleases = pre(c.set_prereleases);
      return expectEqual([r0, s.contains(c.version as string)], c.expected, `${spec} ${c.version}`);
    }
    case "specifier_prereleases_property":
      return expectEqual(new Specifier(spec).prereleases, c.expected, spec);
    case "specifier_contains_prerelease_policy":
      return expectContains(c, new Specifier(spec, pre(c.spec_prereleases)), {
        prereleases: pre(c.contains_prereleases),
      });
    case "specifier_filter":
    case "specifier_filter_arbitrary_equality_normalization":
      return expectEqual(
        filteredInput(c, new Specifier(spec, pre(c.spec_prereleases))),
        c.expected,
        `${spec} filter`,
      );
    case "specifierset_len":
      return expectEqual(new SpecifierSet(spec).size, c.expected, spec);
    case "specifierset_iter":
      return expectEqual([...new SpecifierSet(spec)].map(String).sort(), c.expected, spec);
    case "specifierset_empty_contains":
      return expectContains(c, new SpecifierSet(spec, pre(c.spec_prereleases)));
    case "specifierset_empty_filter":
    case "specifierset_filter":
    case "specifierset_filter_exclusionary_bridges":
      return expectEqual(
        filteredInput(c, new SpecifierSet(spec, pre(c.spec_prereleases))),
        c.expected,
        `${spec} filter ${JSON.stringify(c.input)}`,
      );
    case "specifierset_contains_installed":
      return expectContains(c, new SpecifierSet(spec, pre(c.spec_prereleases)), {
        prereleases: pre(c.contains_prereleases),
        installed: c.installed === true,
      });
    case "specifierset_contains_exclusionary_bridges":
    case "specifierset_contains_post_release_boundary":
    case "specifierset_contains_arbitrary_equality":
      return expectContains(c, new SpecifierSet(spec), { prereleases: pre(c.contains_prereleases) });
    case "specifierset_contains_arbitrary_equality_normalization":
      return expectEqual(
        new SpecifierSet(spec, true).contains(item(c.version)),
        c.expected,
        `${spec} contains ${JSON.stringify(c.version)}`,
      );
    case "specifierset_contains_local_version":
      return expectEqual(
        new SpecifierSet(spec).contains(Version.parse(c.version as string)),
        c.expected,
        `${spec} contains ${c.version}`,
      );
    case "specifierset_and":
      return expectEqual(
        new SpecifierSet(c.left as string).and(c.right as string).toString(),
        c.expected,
        "and",
      );
    case "specifierset_and_contains":
      return expectEqual(
        new SpecifierSet(c.left as string).and(c.right as string).contains(c.version as string),
        c.expected,
        "and",
      );
    case "specifierset_arbitrary_equality_intersection": {
      const kept = new SpecifierSet(`${c.left},${c.right}`).filter(c.input as string[]);
      return expectEqual([...kept].sort(), c.expected, `${c.left},${c.right}`);
    }
    case "specifierset_is_subset":
      return expectEqual(
        new SpecifierSet(c.left as string).isSubset(c.right as string),
        c.expected,
        `${c.left} ⊆ ${c.right}`,
      );
    case "specifierset_is_superset":
      return expectEqual(
        new SpecifierSet(c.left as string).isSuperset(c.right as string),
        c.expected,
        `${c.left} ⊇ ${c.right}`,
      );
    case "specifierset_is_disjoint":
      return expectEqual(
        new SpecifierSet(c.left as string).isDisjoint(c.right as string),
        c.expected,
        `${c.left} ∩ ${c.right}`,
      );
    case "specifierset_is_unsatisfiable":
      return expectEqual(
        new SpecifierSet(spec, pre(c.spec_prereleases)).isUnsatisfiable(),
        c.expected,
        `${spec} unsatisfiable`,
      );
    default:
      throw new Error(`no handler for section ${name}`);
  }
}

export const pep440SpecifiersSuite = jsonFileSuite<Data>("pep440-specifiers", FILE, (d, t) => {
  eachSectionCase(t, d.sections, runSection);
  const m = d.reference_computed_matrix;
  each(m.rows, (row, i) =>
    t.case("reference_computed_matrix", i, () => {
      const set = new SpecifierSet(row.spec, row.spec_prereleases);
      for (const [p, flags] of Object.entries(row.contains)) {
        const prereleases = p === "null" ? null : p === "true";
        const got = m.items.map((x) => (set.contains(x, { prereleases }) ? "1" : "0")).join("");
        expectEqual(got, flags, `${row.spec} (${row.spec_prereleases}) contains[${p}]`);
      }
      for (const [p, expected] of Object.entries(row.filter)) {
        const prereleases = p === "null" ? null : p === "true";
        expectEqual(
          set.filter(m.items, { prereleases }),
          expected,
          `${row.spec} (${row.spec_prereleases}) filter[${p}]`,
        );
      }
    }),
  );
});
