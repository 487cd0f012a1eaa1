import { Marker, type MarkerContext, type MarkerEnvironment, Requirement, SpecifierSet } from "@mlenv/core";
import { eachSectionCase, expectEqual, expectThrows, jsonFileSuite } from "../suite";

/**
 * The host the marker_evaluate cases were recorded on (Linux / CPython 3.11, os_name "posix"):
 * our markers evaluate against an explicit environment, so the runner supplies this one.
 */
export const RECORDING_HOST: MarkerEnvironment = {
  implementation_name: "cpython",
  implementation_version: "3.11.9",
  os_name: "posix",
  platform_machine: "x86_64",
  platform_release: "6.8.0",
  platform_system: "Linux",
  platform_version: "#1 SMP PREEMPT_DYNAMIC",
  python_full_version: "3.11.9",
  platform_python_implementation: "CPython",
  python_version: "3.11",
  sys_platform: "linux",
};

type Case = Record<string, unknown>;
interface Data {
  sections: { name: string; cases: Case[] }[];
}

const ERROR_CODES: Record<string, string> = {
  UndefinedComparison: "E_MARKER_UNDEFINED_COMPARISON",
  UndefinedEnvironmentName: "E_MARKER_UNDEFINED_NAME",
};

function markerCase(name: string, c: Case): unknown {
  switch (name) {
    case "marker_parse":
      if (c.expected === true) return Marker.parse(c.input as string);
      return expectThrows(() => new Marker(c.input as string), c.input as string);
    case "marker_str":
      return expectEqual(new Marker(c.input as string).toString(), c.expected, c.input as string);
    case "marker_equality":
      return expectEqual(
        new Marker(c.left as string).equals(new Marker(c.right as string)),
        c.expected,
        `${c.left} == ${c.right}`,
      );
    case "marker_evaluate": {
      const env = { ...RECORDING_HOST, ...((c.environment as MarkerEnvironment | null) ?? {}) };
      const m = new Marker(c.marker as string);
      const expected = c.expected as boolean | { $raises: string };
      if (typeof expected === "object") {
        const e = expectThrows(() => m.evaluate(env, c.context as MarkerContext), c.marker as string);
        return expectEqual((e as { code?: string }).code, ERROR_CODES[expected.$raises], "error code");
      }
      return expectEqual(m.evaluate(env, c.context as MarkerContext), expected, c.marker as string);
    }
    default:
      throw new Error(`no handler for section ${name}`);
  }
}

function requirementCase(name: string, c: Case): unknown {
  const input = c.input as string;
  switch (name) {
    case "requirement_parse":
    case "requirement_empty_parts": {
      const r = new Requirement(input);
      const e = c.expected as Record<string, unknown>;
      if ("name" in e) expectEqual(r.name, e.name, "name");
      if ("extras" in e) expectEqual([...r.extras].sort(), e.extras, "extras");
      if ("url" in e) expectEqual(r.url, e.url, "url");
      if ("specifier" in e)
        expectEqual(
          r.specifier.equals(new SpecifierSet(e.specifier as string)),
          true,
          `specifier ${r.specifier} vs ${e.specifier}`,
        );
      if ("marker" in e) expectEqual(r.marker?.toString() ?? null, e.marker, "marker");
      return;
    }
    case "requirement_valid_marker":
      return new Requirement(input);
    case "requirement_file_url":
      return expectEqual(new Requirement(input).url, c.expected, input);
    case "requirement_trailing_whitespace":
      return expectEqual(
        new Requirement(input).equals(new Requirement(c.equals as string)),
        c.expected,
        input,
      );
    case "requirement_invalid":
      return expectThrows(() => new Requirement(input), JSON.stringify(input));
    case "requirement_str":
      return expectEqual(new Requirement(input).toString(), c.expected, input);
    case "requirement_equality":
      return expectEqual(
        new Requirement(c.left as string).equals(new Requirement(c.right as string)),
        c.expected,
        `${c.left} == ${c.right}`,
      );
    default:
      throw new Error(`no handler for section ${name}`);
  }
}

export const pep508MarkersSuite = jsonFileSuite<Data>("pep508-markers", "pep508_markers.json", (d, t) =>
  eachSectionCase(t, d.sections, markerCase),
);

export const pep508RequirementsSuite = jsonFileSuite<Data>(
  "pep508-requirements",
  "pep508_requirements.json",
  (d, t) => eachSectionCase(t, d.sections, requirementCase),
);
