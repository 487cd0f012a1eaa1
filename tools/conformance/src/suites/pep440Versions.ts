import { Version, type VersionParts } from "@mlenv/core";
import { type ConformanceSuite, each, expectEqual, expectThrows } from "../suite";

const FILE = "pep440_versions.json";

interface Data {
  valid: string[];
  invalid: unknown[];
  ordering: { versions: string[] };
  equal_pairs: [string, string][];
  normalization: { input: string; normalized: string }[];
  properties: Record<string, { version: string; expected: unknown }[]>;
  from_parts: { parts: Record<string, unknown>; equals_version: string }[];
  reference_computed: { cases: Record<string, unknown>[] };
}

function prop(v: Version, name: string): unknown {
  switch (name) {
    case "public":
      return v.public;
    case "base_version":
      return v.baseVersion;
    case "epoch":
      return v.epoch;
    case "release":
      return [...v.release];
    case "local":
      return v.local;
    case "pre":
      return v.pre === null ? null : [...v.pre];
    case "post":
      return v.post;
    case "dev":
      return v.dev;
    case "is_prerelease":
      return v.isPrerelease;
    case "is_postrelease":
      return v.isPostrelease;
    case "is_devrelease":
      return v.isDevrelease;
    case "major":
      return v.major;
    case "minor":
      return v.minor;
    case "micro":
      return v.micro;
    case "str":
      return v.toString();
    default:
      throw new Error(`unknown property ${name}`);
  }
}

export const pep440VersionsSuite: ConformanceSuite = {
  name: "pep440-versions",
  claims: [FILE],
  run(ctx) {
    const d = ctx.readJson(FILE) as Data;
    const t = ctx.file(FILE);
    each(d.valid, (s, i) =>
      t.case("valid", i, () => expectEqual(Version.isValid(s) && Version.parse(s) !== null, true, s)),
    );
    each(d.invalid, (s, i) =>
      t.case("invalid", i, () => {
        // Non-string inputs are a Python API shape; in TypeScript they are strings or rejected by type.
        expectThrows(() => Version.parse(s as string), JSON.stringify(s));
      }),
    );
    const ord = d.ordering.versions.map((s) => Version.parse(s));
    // One case per version: compared with every version of the list (all ordered pairs).
    for (let i = 0; i < ord.length; i++) {
      const a = ord[i] as Version;
      t.case("ordering", i, () => {
        for (let j = 0; j < ord.length; j++) {
          const b = ord[j] as Version;
          expectEqual(a.compare(b), i < j ? -1 : i > j ? 1 : 0, `${a} vs ${b}`);
          expectEqual(a.equals(b), i === j, `${a} == ${b}`);
        }
      });
    }
    each(d.equal_pairs, ([a, b], i) =>
      t.case("equal_pairs", i, () =>
        expectEqual(Version.parse(a).equals(Version.parse(b)), true, `${a} == ${b}`),
      ),
    );
    each(d.normalization, (c, i) =>
      t.case("normalization", i, () => expectEqual(Version.parse(c.input).toString(), c.normalized, c.input)),
    );
    for (const [name, cases] of Object.entries(d.properties)) {
      each(cases, (c, i) =>
        t.case(`properties.${name}`, i, () =>
          expectEqual(prop(Version.parse(c.version), name), c.expected, `${c.version}.${name}`),
        ),
      );
    }
    each(d.from_parts, (c, i) =>
      t.case("from_parts", i, () => {
        const v = Version.fromParts(c.parts as unknown as VersionParts);
        expectEqual(
          v.equals(Version.parse(c.equals_version)),
          true,
          `${JSON.stringify(c.parts)} == ${c.equals_version}`,
        );
      }),
    );
    each(d.reference_computed.cases, (c, i) =>
      t.case("reference_computed", i, () => {
        const v = Version.parse(c.input as string);
        for (const [k, expected] of Object.entries(c)) {
          if (k === "input") continue;
          expectEqual(prop(v, k), expected, `${c.input}.${k}`);
        }
      }),
    );
    return [t.done()];
  },
};
