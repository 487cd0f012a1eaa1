import {
  condaPackages,
  MatchSpec,
  parseCondaEnvironment,
  parseRequirementsFile,
  pipEntries,
} from "@mlenv/core";
import { type ConformanceSuite, each, expectEqual, type FileReport } from "../suite";
import { checkRequirement, type ExpectedRequirement } from "./pipRequirements";

const FOLDER = "real-world/";

interface Expected {
  file: string;
  kind: "conda-env" | "pip-requirements";
  yaml?: { name?: string; channels?: string[] };
  conda_dependencies?: { spec: string; str: string; components: Record<string, string> }[];
  pip?: { requirements: ExpectedRequirement[]; global: unknown };
  pip_section?: { lines: string[]; requirements: ExpectedRequirement[]; global: unknown };
}

/**
 * real-world/: each verbatim file parsed by our loaders. Requirement files and conda `pip:`
 * blocks go through parseRequirementsFile (one case per requirement, plus the finder state);
 * conda dependencies through MatchSpec (one case each). The YAML reading is the core model's
 * parseCondaEnvironment.
 */
export const realWorldSuite: ConformanceSuite = {
  name: "real-world",
  claims: [FOLDER],
  run(ctx) {
    const expected = ctx.readJson(`${FOLDER}expected_parse.json`) as { files: Expected[] };
    const reports: FileReport[] = [];
    for (const f of expected.files) {
      const rel = `${FOLDER}${f.file}`;
      const t = ctx.file(rel);
      const text = ctx.readText(rel);
      const pipPart = (
        lines: string,
        e: { requirements: ExpectedRequirement[]; global: unknown },
        section: string,
      ) => {
        let parsed: ReturnType<typeof parseRequirementsFile> | undefined;
        t.case(`${section}.global`, 0, () => {
          parsed = parseRequirementsFile(lines, { file: "requirements.txt" });
          expectEqual(parsed.global, e.global, "global");
          expectEqual(
            parsed.lines.filter((l) => l.requirement !== null).length,
            e.requirements.length,
            "number of requirements",
          );
        });
        each(e.requirements, (r, i) =>
          t.case(`${section}.requirements`, i, () => {
            const got = (parsed ?? parseRequirementsFile(lines, { file: "requirements.txt" })).lines.filter(
              (l) => l.requirement !== null,
            )[i];
            if (got === undefined) throw new Error(`missing requirement ${i}`);
            checkRequirement(got, r);
          }),
        );
      };
      if (f.kind === "pip-requirements" && f.pip !== undefined) pipPart(text, f.pip, "pip");
      if (f.kind === "conda-env") {
        let env: ReturnType<typeof parseCondaEnvironment>["environment"] | undefined;
        t.case("yaml", 0, () => {
          env = parseCondaEnvironment(text, { file: f.file }).environment;
          expectEqual({ name: env.name, channels: env.channels }, f.yaml, "name/channels");
        });
        const deps = env === undefined ? [] : condaPackages(env);
        each(f.conda_dependencies ?? [], (c, i) =>
          t.case("conda_dependencies", i, () => {
            expectEqual(deps[i], c.spec, "dependency order");
            const m = new MatchSpec(c.spec);
            expectEqual(m.toString(), c.str, "str");
            expectEqual({ ...m.components }, c.components, "components");
          }),
        );
        if (f.pip_section !== undefined) {
          const lines = env === undefined ? [] : pipEntries(env);
          t.case("pip_section.lines", 0, () => expectEqual(lines, f.pip_section?.lines, "pip lines"));
          pipPart(lines.join("\n"), f.pip_section, "pip_section");
        }
      }
      reports.push(t.done());
    }
    return reports;
  },
};
