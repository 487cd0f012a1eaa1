import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatIssue } from "../src/errors";
import { loadDefinitionFile } from "../src/formats/folder";
import { definitionHash, imageKey } from "../src/hash/hash";
import { validateDefinition } from "../src/validate/validate";

const dir = join(import.meta.dirname, "../../../../shared/conformance/real-world");
const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(ya?ml|txt)$/.test(f)) : [];

describe.skipIf(files.length === 0)("real-world environment files", () => {
  it("finds conda and requirements files", () => {
    expect(files.filter((f) => f.endsWith(".txt")).length).toBeGreaterThan(0);
    expect(files.filter((f) => /\.ya?ml$/.test(f)).length).toBeGreaterThan(0);
  });

  it.each(files)("%s loads, validates without errors and hashes", (file) => {
    const loaded = loadDefinitionFile(file, readFileSync(join(dir, file), "utf8"), {
      filePrefix: "real-world/",
    });
    const errors = validateDefinition(loaded.definition, { locations: loaded.locations }).filter(
      (i) => i.severity === "error",
    );
    expect(errors.map(formatIssue)).toEqual([]);
    expect(definitionHash(loaded.definition)).toMatch(/^mlenv1-sha256:/);
    expect(imageKey(loaded.definition)).toMatch(/^mlenv1-sha256:/);
  });
});
