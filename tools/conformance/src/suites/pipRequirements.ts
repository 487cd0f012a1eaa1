import {
  decodeRequirementsBytes,
  joinRequirementLines,
  Marker,
  type ParsedRequirementLine,
  parseRequirementsFile,
  Requirement,
  SpecifierSet,
  splitRequirementOptions,
  stripRequirementComments,
} from "@mlenv/core";
import { each, expectEqual, expectThrows, jsonFileSuite } from "../suite";

const FILE = "pip_requirements_file.json";

type FileBody = string | { base64: string };
interface Scenario {
  name: string;
  files: Record<string, FileBody>;
  entry: string;
  env?: Record<string, string>;
  constraint?: boolean;
  expected: {
    parsed_lines?: Record<string, unknown>[];
    requirements?: ExpectedRequirement[];
    global?: unknown;
    error?: { type: string; message: string };
  };
}
export interface ExpectedRequirement {
  requirement: string;
  is_editable: boolean;
  constraint: boolean;
  install_req?: {
    name: string | null;
    specifier: string;
    extras: string[];
    markers: string | null;
    link: string | null;
    editable: boolean;
  };
  /** pip could not interpret the line as a requirement. */
  install_req_error?: { type: string; message: string };
}

const text = (b: FileBody): string =>
  typeof b === "string"
    ? b
    : decodeRequirementsBytes(Uint8Array.from(atob(b.base64), (c) => c.charCodeAt(0)));

const normalise = (p: string): string => p.replace(/^\.\//, "");

export function lineView(l: ParsedRequirementLine): Record<string, unknown> {
  return {
    file: l.file,
    lineno: l.lineno,
    requirement: l.requirement,
    is_editable: l.isEditable,
    constraint: l.constraint,
    options: l.options,
  };
}

/** Our reading of one requirement line compared with pip's InstallRequirement view. */
export function checkRequirement(line: ParsedRequirementLine, e: ExpectedRequirement): void {
  expectEqual(line.requirement, e.requirement, "requirement");
  expectEqual(line.isEditable, e.is_editable, "is_editable");
  expectEqual(line.constraint, e.constraint, "constraint");
  if (line.requirement === null) return;
  const text = line.requirement;
  if (e.install_req_error !== undefined) {
    expectThrows(() => Requirement.parse(text), `invalid requirement ${text}`);
    return;
  }
  if (e.install_req === undefined || e.install_req.link !== null || e.is_editable) return;
  const r = Requirement.parse(text);
  expectEqual(r.name, e.install_req.name, "install_req.name");
  expectEqual(
    r.specifier.equals(new SpecifierSet(e.install_req.specifier)),
    true,
    `specifier ${r.specifier} vs ${e.install_req.specifier}`,
  );
  expectEqual([...r.extras].sort(), [...e.install_req.extras].sort(), "extras");
  expectEqual(
    r.marker?.toString() ?? null,
    e.install_req.markers === null ? null : new Marker(e.install_req.markers).toString(),
    "markers",
  );
}

function runScenario(s: Scenario): void {
  const files = new Map(Object.entries(s.files).map(([k, v]) => [normalise(k), v]));
  const entry = normalise(s.entry);
  const parse = () =>
    parseRequirementsFile(text(files.get(entry) as FileBody), {
      file: entry,
      ...(s.env === undefined ? {} : { env: s.env }),
      ...(s.constraint === undefined ? {} : { constraint: s.constraint }),
      loader: (path) => {
        const body = files.get(path);
        if (body === undefined) throw new Error(`no such file ${path}`);
        return text(body);
      },
    });
  if (s.expected.error !== undefined) {
    expectThrows(parse, s.name);
    return;
  }
  const got = parse();
  expectEqual(got.lines.map(lineView), s.expected.parsed_lines ?? [], "parsed_lines");
  expectEqual(got.global, s.expected.global, "global");
  const reqs = got.lines.filter((l) => l.requirement !== null);
  const expected = s.expected.requirements ?? [];
  expectEqual(reqs.length, expected.length, "number of requirements");
  each(reqs, (l, i) => checkRequirement(l, expected[i] as ExpectedRequirement));
}

interface LineFunctions {
  preprocess: { input: string; expected: [number, string][] }[];
  ignore_comments: { input: [number, string][]; expected: [number, string][] }[];
  join_lines: { input: string[]; expected: [number, string][] }[];
  break_args_options: { input: string; expected: [string, string] }[];
}

interface Data {
  scenarios: Scenario[];
  line_functions: LineFunctions;
}

export const pipRequirementsSuite = jsonFileSuite<Data>("pip-requirements-file", FILE, (d, t) => {
  each(d.scenarios, (s, i) => t.case("scenarios", i, () => runScenario(s)));
  const lf = d.line_functions;
  each(lf.preprocess, (c, i) =>
    t.case("line_functions.preprocess", i, () => {
      const lines = c.input.split("\n");
      if (lines[lines.length - 1] === "") lines.pop();
      expectEqual(stripRequirementComments(joinRequirementLines(lines)), c.expected, JSON.stringify(c.input));
    }),
  );
  each(lf.ignore_comments, (c, i) =>
    t.case("line_functions.ignore_comments", i, () => {
      expectEqual(stripRequirementComments(c.input), c.expected, JSON.stringify(c.input));
    }),
  );
  each(lf.join_lines, (c, i) =>
    t.case("line_functions.join_lines", i, () => {
      expectEqual(joinRequirementLines(c.input), c.expected, JSON.stringify(c.input));
    }),
  );
  each(lf.break_args_options, (c, i) =>
    t.case("line_functions.break_args_options", i, () => {
      expectEqual(splitRequirementOptions(c.input), c.expected, c.input);
    }),
  );
});
