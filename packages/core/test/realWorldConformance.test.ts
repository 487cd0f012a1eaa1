import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { condaPackages, parseCondaEnvironment, pipEntries } from "../src/formats/condaEnvironment";
import { definitionFromRequirements } from "../src/formats/folder";
import { requirementLines } from "../src/formats/requirements";
import { isPipOption } from "../src/hash/normalize";

const dir = join(import.meta.dirname, "../../../../shared/conformance/real-world");
const expectedFile = join(dir, "expected_parse.json");

interface Expected {
  files: {
    file: string;
    kind: "conda-env" | "pip-requirements";
    yaml?: { name?: string; channels?: string[] };
    conda_dependencies?: { spec: string }[];
    pip_section?: { lines: string[] };
    pip?: { requirements: { requirement: string }[]; global: { index_urls: string[] } };
  }[];
}
const expected: Expected | null = existsSync(expectedFile)
  ? JSON.parse(readFileSync(expectedFile, "utf8"))
  : null;

describe.skipIf(expected === null)(
  "real-world files read as conda and pip read them (expected_parse.json)",
  () => {
    const conda = expected?.files.filter((f) => f.kind === "conda-env") ?? [];
    const pip = expected?.files.filter((f) => f.kind === "pip-requirements") ?? [];

    it.each(conda.map((f) => [f.file, f] as const))(
      "%s: name, channels, conda specs and pip lines",
      (file, exp) => {
        const { environment } = parseCondaEnvironment(readFileSync(join(dir, file), "utf8"), { file });
        expect(environment.name ?? undefined).toBe(exp.yaml?.name);
        expect(environment.channels).toEqual(exp.yaml?.channels);
        expect(condaPackages(environment)).toEqual(exp.conda_dependencies?.map((d) => d.spec));
        expect(pipEntries(environment)).toEqual(exp.pip_section?.lines ?? []);
      },
    );

    it.each(pip.map((f) => [f.file, f] as const))("%s: the requirement lines pip reads", (file, exp) => {
      const lines = requirementLines(readFileSync(join(dir, file), "utf8"));
      const reqs = lines.filter((l) => !isPipOption(l));
      expect(reqs).toEqual(exp.pip?.requirements.map((r) => r.requirement));
      const indexUrls = lines
        .filter((l) => /^--(extra-)?index-url\b/.test(l))
        .map((l) => l.replace(/^--(extra-)?index-url[\s=]+/, ""));
      expect(indexUrls).toEqual(exp.pip?.global.index_urls);

      // The definition made from the file (pip syntax through ./packaging) holds the same requirements.
      const def = definitionFromRequirements(readFileSync(join(dir, file), "utf8"), { file }).definition;
      const block = def.python.condaDependencies.dependencies?.find((d) => typeof d !== "string");
      const entries = typeof block === "object" ? block.pip : [];
      expect(entries.filter((l) => !isPipOption(l)).map((l) => l.replace(/^-e /, ""))).toEqual(
        exp.pip?.requirements.map((r) => r.requirement),
      );
      const optionUrls = entries
        .filter((l) => /^--(extra-)?index-url /.test(l))
        .map((l) => l.replace(/^--(extra-)?index-url /, ""));
      expect(optionUrls).toEqual(exp.pip?.global.index_urls);
    });
  },
);
