import { readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalizeName } from "@mlenv/core";
import {
  compatibleTags,
  defaultPipSemantics,
  isResolverError,
  type PipCandidateSource,
  type PipRelease,
  resolvePip,
  resolvePipUniversal,
} from "@mlenv/resolver";
import { parse as parseToml } from "smol-toml";
import { parse as parseYaml } from "yaml";
import { type ConformanceSuite, expectEqual, type FileReport, Mismatch } from "../suite";

const FOLDER = "packse/";

interface Entry {
  file: string;
  name: string;
  satisfiable: boolean;
  expected_packages: Record<string, string> | null;
  uv_test_mode: "install" | "compile" | "lock";
  uv_head_divergence?: { satisfiable: boolean; expected_packages: Record<string, string> | null };
  testgen?: { disable?: boolean };
}

interface VersionMeta {
  requires_python?: string;
  requires?: string[];
  extras?: Record<string, string[]>;
  sdist?: boolean;
  wheel?: boolean;
  wheel_tags?: string[];
  yanked?: boolean;
}

interface Scenario {
  root?: { requires?: string[]; requires_python?: string };
  packages?: Record<string, { versions?: Record<string, VersionMeta> }>;
  environment?: { python?: string };
  resolver_options?: {
    python?: string;
    prereleases?: boolean;
    no_build?: string[];
    no_binary?: string[];
    universal?: boolean;
    python_platform?: string;
    resolution?: "highest" | "lowest" | "lowest-direct";
  };
}

const normExtra = (e: string) => e.toLowerCase().replace(/[-_.]+/g, "-");

/** An in-memory package universe built from a packse scenario. */
export function scenarioSource(s: Scenario, tags: Set<string> | null): PipCandidateSource {
  const pkgs = new Map<string, Record<string, VersionMeta>>();
  for (const [n, p] of Object.entries(s.packages ?? {})) pkgs.set(canonicalizeName(n), p.versions ?? {});
  const noBuild = new Set((s.resolver_options?.no_build ?? []).map((n) => canonicalizeName(n)));
  const noBinary = new Set((s.resolver_options?.no_binary ?? []).map((n) => canonicalizeName(n)));
  const meta = new Map<string, VersionMeta>();
  return {
    async releases(project) {
      const name = canonicalizeName(project);
      const versions = pkgs.get(name);
      if (!versions) return null;
      return Object.entries(versions).map(([version, m0]): PipRelease => {
        const m = m0 ?? {};
        meta.set(`${name}\0${version}`, m);
        const wheelTags = m.wheel_tags?.length ? m.wheel_tags : ["py3-none-any"];
        const hasWheel =
          (m.wheel ?? true) &&
          !noBinary.has(name) &&
          (tags === null || wheelTags.some((t) => tagsOf(t).some((x) => tags.has(x))));
        const hasSdist = (m.sdist ?? true) && !noBuild.has(name);
        const filename = hasWheel ? `${name}-${version}-py3-none-any.whl` : `${name}-${version}.tar.gz`;
        const r: PipRelease = {
          version,
          yanked: m.yanked ?? false,
          requiresPython: m.requires_python ?? ">=3.12",
          artifact:
            hasWheel || hasSdist
              ? {
                  project: name,
                  filename,
                  url: `file:///packse/${filename}`,
                  yanked: false,
                  coreMetadata: true,
                  index: "packse",
                }
              : null,
        };
        return r;
      });
    },
    async metadata(project, release) {
      const m = meta.get(`${canonicalizeName(project)}\0${release.version}`) ?? {};
      const requiresDist = [...(m.requires ?? [])];
      for (const [extra, reqs] of Object.entries(m.extras ?? {})) {
        for (const r of reqs) {
          const [req, marker] = r.split(";", 2) as [string, string | undefined];
          const x = `extra == "${normExtra(extra)}"`;
          requiresDist.push(`${req.trim()} ; ${marker ? `(${marker.trim()}) and ${x}` : x}`);
        }
      }
      return { requiresDist, requiresPython: m.requires_python ?? ">=3.12" };
    },
  };
}

function tagsOf(tag: string): string[] {
  const [py = "", abi = "", plat = ""] = tag.split("-");
  const out: string[] = [];
  for (const a of py.split("."))
    for (const b of abi.split(".")) for (const c of plat.split(".")) out.push(`${a}-${b}-${c}`);
  return out;
}

/**
 * The environments a universal (lock) resolution must cover: the lowest Python that
 * requires-python allows and the newest, on Linux x86_64/aarch64, macOS arm64/x86_64 and
 * Windows (plus, in runScenario, every marker value the scenario names).
 */
function universalTargets(requiresPython: string): { python: string; platform: string; glibc?: string }[] {
  const m = />=\s*(\d+\.\d+(?:\.\d+)?)/.exec(requiresPython);
  const low = m?.[1] ?? "0";
  const [maj = 0, min = 0] = low.split(".").map(Number);
  // below 3.8 (e.g. ">=0") no scenario package exists; start where the universe does
  const pythons =
    maj < 3 || (maj === 3 && min < 8) ? ["3.11", "3.12", "3.14"] : [...new Set([low, "3.12", "3.14"])];
  const platforms = ["linux-64", "linux-aarch64", "osx-arm64", "osx-64", "win-64"];
  return pythons.flatMap((python) => platforms.map((platform) => ({ python, platform, glibc: "2.28" })));
}

async function runScenario(dir: string, e: Entry, useHead: boolean): Promise<void> {
  const file =
    useHead && e.uv_head_divergence ? ((e.uv_head_divergence as { file?: string }).file ?? e.file) : e.file;
  const text = readFileSync(join(dir, file), "utf8");
  const doc: unknown = file.endsWith(".toml")
    ? parseToml(text)
    : file.endsWith(".json")
      ? JSON.parse(text)
      : parseYaml(text);
  // JSON and YAML files may hold a list of scenarios; the entry names which one
  const s = (
    Array.isArray(doc)
      ? ((doc as (Scenario & { name?: string })[]).find((x) => x.name === e.name) ?? doc[0])
      : doc
  ) as Scenario;
  const satisfiable = useHead && e.uv_head_divergence ? e.uv_head_divergence.satisfiable : e.satisfiable;
  const expected =
    useHead && e.uv_head_divergence ? e.uv_head_divergence.expected_packages : e.expected_packages;
  const universal = e.uv_test_mode === "lock" || s.resolver_options?.universal === true;
  const envs = universal
    ? universalTargets(s.root?.requires_python ?? ">=3.12")
    : [
        {
          python:
            e.uv_test_mode === "compile" && s.resolver_options?.python
              ? s.resolver_options.python
              : (s.environment?.python ?? "3.12"),
          platform: "linux-64",
          glibc: "2.17",
        },
      ];
  // universal mode also forks on marker values the scenario names (sys_platform == 'os2', ...)
  const overrides: (Record<string, string> | undefined)[] = [undefined];
  if (universal) {
    const re =
      /\b(sys_platform|platform_machine|os_name|implementation_name|platform_system)\s*==\s*['"]([^'"]+)['"]/g;
    for (const m of text.matchAll(re)) overrides.push({ [m[1] as string]: m[2] as string });
  }
  let got: Record<string, string> | null = {};
  const union = new Set<string>();
  let error: unknown = null;
  const common = {
    requirements: s.root?.requires ?? [],
    semantics: defaultPipSemantics,
    prereleases: s.resolver_options?.prereleases ? ("allow" as const) : ("if-necessary" as const),
    ignoreRequiresPythonUpperBound: true,
    resolution: s.resolver_options?.resolution ?? "highest",
  };
  try {
    if (universal) {
      // one forking resolution over every environment; wheel tags only filter which wheels
      // are locked, not which versions exist
      const out = await resolvePipUniversal({
        ...common,
        source: scenarioSource(s, null),
        environments: envs.flatMap((target) =>
          overrides.map((o) => (o ? { target, environment: o } : { target })),
        ),
      });
      for (const f of out.forks) for (const p of f.packages) union.add(`${p.name}==${p.version}`);
    } else {
      const target = envs[0] as (typeof envs)[number];
      const out = await resolvePip({
        ...common,
        source: scenarioSource(s, new Set(compatibleTags(target))),
        target,
      });
      for (const p of out.packages) got[p.name] = p.version;
    }
  } catch (err) {
    if (!isResolverError(err) || err.code !== "E_UNSATISFIABLE") throw err;
    error = err;
    got = null;
  }
  expectEqual(
    got !== null,
    satisfiable,
    `${e.name}: satisfiable${error ? ` (${(error as Error).message.slice(0, 200)})` : ""}`,
  );
  if (got && expected && Object.keys(expected).length) {
    const want = Object.fromEntries(Object.entries(expected).map(([k, v]) => [canonicalizeName(k), v]));
    if (universal) {
      // universal: every expected name==version appears in at least one environment's resolution
      const missing = Object.entries(want).filter(([k, v]) => !union.has(`${k}==${v}`));
      expectEqual(
        missing,
        [],
        `${e.name}: expected pins missing from every environment (have ${[...union].join(", ")})`,
      );
    } else expectEqual(got, want, `${e.name}: packages`);
  }
}

/**
 * packse resolver scenarios under uv HEAD's pre-release rules (stable first, pre-releases as
 * fallback), plus uv's own scenarios: install and compile modes resolve for one environment,
 * universal (lock) mode with `resolvePipUniversal` over a set of environments.
 */
export const packseSuite: ConformanceSuite = {
  name: "packse",
  claims: [FOLDER],
  async run(ctx) {
    const dir = join(ctx.dir, "packse");
    const index = ctx.readJson("packse/INDEX.json") as {
      scenarios: Entry[];
      uv_head_only_scenarios: Entry[];
    };
    const reports: FileReport[] = [];
    for (const [label, list] of [
      ["packse/scenarios", index.scenarios],
      ["packse/uv-head-scenarios", index.uv_head_only_scenarios],
    ] as const) {
      const run = ctx.file(label);
      let i = 0;
      for (const e of list) {
        const section = e.uv_test_mode === "lock" ? `lock:${e.name}` : e.name;
        if (e.testgen?.disable) {
          run.case(`disabled:${e.name}`, i++, () => {
            throw new Mismatch("testgen.disable scenario: list it in not-applicable.json with a reason");
          });
          continue;
        }
        let failure: unknown = null;
        try {
          await runScenario(dir, e, true);
        } catch (err) {
          failure = err;
        }
        run.case(section, i++, () => {
          if (failure) throw failure;
        });
      }
      reports.push(run.done());
    }
    return reports;
  },
};
