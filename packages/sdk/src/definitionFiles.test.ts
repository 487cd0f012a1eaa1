import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FolderFiles } from "@mlenv/core";
import { makeTempDir } from "@mlenv/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import {
  fromCondaSpecificationFile,
  fromPipRequirementsFile,
  loadDefinitionPath,
  loadFromDirectory,
  saveToDirectory,
  writeDefinitionFiles,
} from "./definitionFiles";
import { Environment } from "./environment";
import { isMlenvError } from "./errors";

const temps: Array<() => void> = [];
function tmp(): string {
  const t = makeTempDir();
  temps.push(t.cleanup);
  return t.path;
}
afterEach(() => {
  for (const c of temps.splice(0)) c();
});

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe("saveToDirectory / loadFromDirectory", () => {
  it("round-trips an environment through the folder layout, hash unchanged", () => {
    const dir = join(tmp(), "env");
    const env = new Environment("round-trip");
    env.python.condaDependencies.addPipPackage("numpy==1.26.4");
    env.environmentVariables.A = "1";
    const written = saveToDirectory(env, dir);
    expect(written.map((p) => p.slice(dir.length + 1)).sort()).toEqual([
      FolderFiles.definition,
      FolderFiles.conda,
    ]);
    const back = loadFromDirectory(dir);
    expect(back.toDefinition()).toEqual(env.toDefinition());
    expect(back.definitionHash).toBe(env.definitionHash);
  });

  it("writes a BaseDockerfile for a Dockerfile environment and removes a stale one on overwrite", () => {
    const dir = join(tmp(), "env");
    saveToDirectory(Environment.fromDockerfile("d", "FROM debian:bookworm\n"), dir);
    expect(readFileSync(join(dir, FolderFiles.dockerfile), "utf8")).toBe("FROM debian:bookworm\n");
    saveToDirectory(new Environment("d"), dir, { overwrite: true });
    expect(existsSync(join(dir, FolderFiles.dockerfile))).toBe(false);
    expect(loadFromDirectory(dir).docker.baseDockerfile).toBeNull();
  });

  it("refuses a non-empty directory without overwrite, leaving it untouched", () => {
    const dir = tmp();
    writeFileSync(join(dir, "notes.txt"), "mine");
    expect(codeOf(() => saveToDirectory(new Environment("x"), dir))).toBe("E_IO");
    expect(readdirSync(dir)).toEqual(["notes.txt"]);
  });

  it("refuses file names that would land outside the directory", () => {
    const dir = tmp();
    for (const name of ["../evil", "/etc/passwd", "a/b", ".."]) {
      expect(codeOf(() => writeDefinitionFiles(dir, { [name]: "x" }))).toBe("E_IO");
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it("refuses to write through a symlink planted in the directory", () => {
    const dir = tmp();
    const outside = tmp();
    symlinkSync(join(outside, "target"), join(dir, FolderFiles.definition));
    expect(codeOf(() => saveToDirectory(new Environment("x"), dir, { overwrite: true }))).toBe("E_IO");
    expect(readdirSync(outside)).toEqual([]);
  });
});

describe("loadDefinitionPath", () => {
  it("loads a single conda .yml, naming the file in located errors", () => {
    const dir = tmp();
    writeFileSync(join(dir, "environment.yml"), "dependencies:\n  - python=3.10\n  - numpy\n");
    const loaded = loadDefinitionPath(join(dir, "environment.yml"));
    expect(loaded.definition.name).toBe("environment");
    writeFileSync(join(dir, "bad.yml"), "dependencies:\n  - python=3.10\n  - [unclosed\n");
    let err: { code?: string; message?: string } = {};
    try {
      loadDefinitionPath(join(dir, "bad.yml"), { displayPath: "envs/bad.yml" });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toMatch(/^E_/);
    expect(err.message).toContain("envs/bad.yml");
  });

  it("loads a requirements .txt as a definition", () => {
    const dir = tmp();
    writeFileSync(join(dir, "requirements.txt"), "numpy==1.26.4\n");
    const def = loadDefinitionPath(join(dir, "requirements.txt")).definition;
    expect(JSON.stringify(def.python.condaDependencies)).toContain("numpy==1.26.4");
  });

  it("names the folder when azureml_environment.json has no name", () => {
    const dir = join(tmp(), "folder-name");
    mkdirSync(dir);
    writeFileSync(join(dir, FolderFiles.definition), "{}");
    expect(loadDefinitionPath(dir).definition.name).toBe("folder-name");
  });

  it("reports a missing path as E_IO", () => {
    expect(
      isMlenvError(
        catchIt(() => loadDefinitionPath(join(tmp(), "nope"))),
        "E_IO",
      ),
    ).toBe(true);
  });
});

function catchIt(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("from*File", () => {
  it("fromCondaSpecificationFile uses the given name, not the document's", () => {
    const dir = tmp();
    const file = join(dir, "environment.yml");
    writeFileSync(file, "name: doc-name\ndependencies:\n  - python=3.11\n  - numpy=1.26.4\n");
    const env = fromCondaSpecificationFile("given", file);
    expect(env.name).toBe("given");
    expect(env.python.condaDependencies.condaPackages).toContain("numpy=1.26.4");
  });

  it("fromPipRequirementsFile puts the requirements in the pip block", () => {
    const dir = tmp();
    const file = join(dir, "requirements.txt");
    writeFileSync(file, "torch==2.3.0\n");
    expect(fromPipRequirementsFile("r", file).python.condaDependencies.pipPackages).toEqual(["torch==2.3.0"]);
  });
});
