import {
  type CondaPackageRecord,
  condaChannelMatches,
  condaSpecFromLine,
  MatchSpec,
  type MatchSpecFields,
  parseMatchSpecString,
} from "@mlenv/core";
import { each, expectEqual, expectThrows, jsonFileSuite } from "../suite";

const FILE = "conda_matchspec.json";
type Case = Record<string, unknown>;

/** Decode the file's tagged Python objects ({$MatchSpec}, {$Dist}, {$PackageRecord}, {$Channel}). */
function specInput(x: unknown): string | MatchSpecFields | null {
  if (x === null || typeof x === "string") return x;
  const o = x as Record<string, unknown>;
  if (typeof o.$MatchSpec === "string") return o.$MatchSpec;
  if (typeof o.$Dist === "string") {
    const [channel, rest] = o.$Dist.split("::") as [string, string];
    const parts = rest.split("-");
    const build = parts.pop() as string;
    const version = parts.pop() as string;
    return { channel, name: parts.join("-"), version, build };
  }
  // A PackageRecord converts to the fields conda copies from it (no build_number); a plain dict keeps them all.
  const rec = (o.$PackageRecord ?? o) as Record<string, unknown>;
  const keys =
    o.$PackageRecord === undefined
      ? (["name", "version", "build", "build_number", "channel", "subdir"] as const)
      : (["name", "version", "build", "channel", "subdir"] as const);
  const fields: MatchSpecFields = {};
  for (const k of keys) {
    if (rec[k] !== undefined && rec[k] !== null) (fields as Record<string, unknown>)[k] = rec[k];
  }
  return fields;
}

function kwargs(x: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((x as Record<string, unknown>) ?? {})) {
    if (v !== null && typeof v === "object" && !Array.isArray(v) && "$VersionSpec" in v)
      out[k] = (v as { $VersionSpec: string }).$VersionSpec;
    else out[k] = v;
  }
  return out;
}

function record(x: Record<string, unknown>): CondaPackageRecord {
  const ch = x.channel as unknown;
  return {
    ...x,
    channel: ch !== null && typeof ch === "object" ? (ch as { $Channel: string }).$Channel : (ch as string),
  } as CondaPackageRecord;
}

function checkParsed(m: MatchSpec, expected: Record<string, unknown>): void {
  expectEqual(m.toString(), expected.str, "str");
  const components: Record<string, string> = {};
  for (const [k, v] of Object.entries(m.components)) if (v !== undefined) components[k] = v;
  expectEqual(components, expected.components, "components");
  if ("optional" in expected) expectEqual(m.optional, expected.optional, "optional");
  if ("target" in expected) expectEqual(m.target, expected.target, "target");
}

function run(section: string, c: Case): unknown {
  switch (section) {
    case "matchspec_parse":
    case "matchspec_parse_v3": {
      const e = c.expected as Record<string, unknown>;
      const options = section === "matchspec_parse_v3" ? ({ syntax: "v3" } as const) : {};
      if ("$raises" in e)
        return expectThrows(() => new MatchSpec(c.input as string, {}, options), c.input as string);
      return checkParsed(new MatchSpec(c.input as string, {}, options), e);
    }
    case "matchspec_parse_kwargs":
      return checkParsed(
        new MatchSpec(specInput(c.input), kwargs(c.kwargs)),
        c.expected as Record<string, unknown>,
      );
    case "parse_spec_str": {
      if ("$raises" in (c.expected as object))
        return expectThrows(() => new MatchSpec(c.input as string), c.input as string);
      const { _original_spec_str: _, ...expected } = c.expected as Record<string, unknown>;
      const got = parseMatchSpecString(c.input as string) as Record<string, unknown>;
      return expectEqual(got, expected, c.input as string);
    }
    case "match":
      return expectEqual(
        MatchSpec.parse(c.spec as string, c.parser === "v3" ? { syntax: "v3" } : {}).match(
          record(c.record as Record<string, unknown>),
        ),
        c.expected,
        `${c.spec}`,
      );
    case "channel_match":
      return expectEqual(
        condaChannelMatches(c.channel as string, c.other as string),
        c.expected,
        `${c.channel} ~ ${c.other}`,
      );
    case "get_exact_value":
      return expectEqual(
        MatchSpec.parse(c.spec as string).getExactValue(c.field as "name"),
        c.expected,
        `${c.spec}.${c.field}`,
      );
    case "conda_build_form":
      return expectEqual(MatchSpec.parse(c.spec as string).condaBuildForm(), c.expected, c.spec as string);
    case "conda_env_form":
      return expectEqual(MatchSpec.parse(c.spec as string).condaEnvForm(), c.expected, c.spec as string);
    case "spec_from_line":
      return expectEqual(condaSpecFromLine(c.input as string), c.expected, c.input as string);
    default:
      throw new Error(`no handler for section ${section}`);
  }
}

export const condaMatchspecSuite = jsonFileSuite<Record<string, { cases?: Case[] }>>(
  "conda-matchspec",
  FILE,
  (d, t) => {
    for (const [section, body] of Object.entries(d)) {
      if (section === "header" || section === "notes" || body.cases === undefined) continue;
      each(body.cases, (c, i) => t.case(section, i, () => void run(section, c)));
    }
  },
);
