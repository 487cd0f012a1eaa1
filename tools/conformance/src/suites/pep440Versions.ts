import { Version, type VersionParts } from "@mlenv/core";
import { each, expectEqual, expectThrows, jsonFileSuite } from "../suite";

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

/** The reference's Version properties, by their Python names. */
const PROPERTIES: Record<string, (v: Version) => unknown> = {
  public: (v) => v.public,
  base_version: (v) => v.baseVersion,
  epoch: (v) => v.epoch,
  release: (v) => [...v.release],
  local: (v) => v.local,
  pre: (v) => (v.pre === null ? null : [...v.pre]),
  post: (v) => v.post,
  dev: (v) => v.dev,
  is_prerelease: (v) => v.isPrerelease,
  is_postrelease: (v) => v.isPostrelease,
  is_devrelease: (v) => v.isDevrelease,
  major: (v) => v.major,
  minor: (v) => v.minor,
  micro: (v) => v.micro,
  str: (v) => v.toString(),
};

function prop(v: Version, name: string): unknown {
  const get = Object.hasOwn(PROPERTIES, name) ? PROPERTIES[name] : undefined;
  if (get === undefined) throw new Error(`unknown property ${name}`);
  return get(v);
}

export const pep440VersionsSuite = jsonFileSuite<Data>("pep440-versions", FILE, (d, t) => {
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
});
