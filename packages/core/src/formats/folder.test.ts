import { describe, expect, it } from "vitest";
import { createDefinition, parseDefinition } from "../spec/definition";
import { parseCondaEnvironment, renderCondaEnvironment } from "./condaEnvironment";
import { FolderFiles, loadDefinitionFile, loadDefinitionFolder, saveDefinitionFolder } from "./folder";

describe("folder layout", () => {
  it("saves to three files and loads back an equal definition", () => {
    const def = parseDefinition({
      name: "round-trip",
      description: "d",
      tags: { a: "b" },
      environmentVariables: { OMP_NUM_THREADS: "1" },
      python: {
        condaDependencies: {
          name: "x",
          channels: ["conda-forge"],
          dependencies: [
            "python=3.10",
            "numpy=1.26",
            { pip: ["requests==2.31.0", "--index-url http://127.0.0.1:1/simple"] },
          ],
          variables: { FOO: "bar" },
          prefix: "/opt/env",
        },
      },
      docker: { baseDockerfile: "FROM ubuntu:22.04\nRUN echo hi\n" },
      spark: { packages: [{ group: "g", artifact: "a", version: "1" }] },
    });
    const files = saveDefinitionFolder(def);
    expect(Object.keys(files).sort()).toEqual(
      [FolderFiles.definition, FolderFiles.conda, FolderFiles.dockerfile].sort(),
    );
    expect(files[FolderFiles.dockerfile]).toBe("FROM ubuntu:22.04\nRUN echo hi\n");
    const json = JSON.parse(files[FolderFiles.definition]!);
    expect(json.python.condaDependencies).toBeNull();
    expect(json.docker.baseDockerfile).toBeNull();
    const loaded = loadDefinitionFolder(files);
    expect(loaded.definition).toEqual(def);
    expect(saveDefinitionFolder(loaded.definition)).toEqual(files);
  });

  it("keeps registry fields it does not model (e.g. registryIdentity) through a round trip", () => {
    const def = parseDefinition({
      name: "r",
      docker: { baseImageRegistry: { address: "127.0.0.1:5000", registryIdentity: null } },
    });
    const files = saveDefinitionFolder(def);
    expect(JSON.parse(files[FolderFiles.definition]!).docker.baseImageRegistry).toEqual({
      address: "127.0.0.1:5000",
      username: null,
      password: null,
      registryIdentity: null,
    });
    expect(loadDefinitionFolder(files).definition).toEqual(def);
  });

  it("round-trips the default definition without a Dockerfile", () => {
    const def = createDefinition("plain");
    const files = saveDefinitionFolder(def);
    expect(files[FolderFiles.dockerfile]).toBeUndefined();
    expect(loadDefinitionFolder(files).definition).toEqual(def);
  });

  it("locates a schema error in conda_dependencies.yml by line", () => {
    const files = {
      [FolderFiles.definition]: '{\n  "name": "x"\n}\n',
      [FolderFiles.conda]: "channels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - 42\n",
    };
    try {
      loadDefinitionFolder(files, { filePrefix: "env/" });
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; issues: { path: string; file?: string; line?: number }[] };
      expect(err.code).toBe("E_SPEC_INVALID");
      expect(err.issues[0]).toMatchObject({
        path: "python.condaDependencies.dependencies[1]",
        file: "env/conda_dependencies.yml",
        line: 5,
      });
    }
  });

  it("warns, with file and line, about fields the model does not know", () => {
    const loaded = loadDefinitionFolder({
      [FolderFiles.definition]:
        '{\n  "name": "x",\n  "enviromentVariables": {},\n  "docker": {\n    "baseImag": "u"\n  }\n}\n',
    });
    expect(loaded.warnings.map((w) => [w.code, w.path, w.line])).toEqual([
      ["W_UNKNOWN_FIELD", "enviromentVariables", 3],
      ["W_UNKNOWN_FIELD", "docker.baseImag", 5],
    ]);
    expect(loadDefinitionFolder(saveDefinitionFolder(createDefinition("clean"))).warnings).toEqual([]);
  });

  it("locates a schema error in azureml_environment.json by line", () => {
    try {
      loadDefinitionFolder({
        [FolderFiles.definition]:
          '{\n  "name": "x",\n  "python": {\n    "userManagedDependencies": "yes"\n  }\n}\n',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({
        code: "E_SPEC_INVALID",
        file: "azureml_environment.json",
        line: 4,
        issues: [expect.objectContaining({ path: "python.userManagedDependencies", line: 4 })],
      });
    }
  });

  it("reports JSON syntax errors with file and line", () => {
    expect(() =>
      loadDefinitionFolder({ [FolderFiles.definition]: '{\n  "name": "x",\n  "tags": {,}\n}' }),
    ).toThrow(expect.objectContaining({ code: "E_JSON_SYNTAX", file: "azureml_environment.json", line: 3 }));
  });

  it("reports YAML syntax errors with file and line", () => {
    try {
      loadDefinitionFolder({
        [FolderFiles.definition]: '{"name": "x"}',
        [FolderFiles.conda]: "dependencies:\n  - a\n bad: [\n",
      });
      expect.unreachable();
    } catch (e) {
      const err = e as { code: string; file?: string; line?: number };
      expect(err.code).toBe("E_YAML_SYNTAX");
      expect(err.file).toBe("conda_dependencies.yml");
      expect(err.line).toBeGreaterThanOrEqual(2);
    }
  });

  it("rejects integers that YAML would silently round", () => {
    expect(() =>
      loadDefinitionFolder({ [FolderFiles.definition]: '{"name":"x","version": 9007199254740993}' }),
    ).toThrow(/beyond/);
  });

  it("refuses a conda document both inline and in conda_dependencies.yml", () => {
    expect(() =>
      loadDefinitionFolder({
        [FolderFiles.definition]:
          '{"name":"x","python":{"condaDependencies":{"dependencies":["python=3.11"]}}}',
        [FolderFiles.conda]: "dependencies: [python=3.11]\n",
      }),
    ).toThrow(expect.objectContaining({ code: "E_FOLDER_INVALID" }));
  });
});

describe("single files", () => {
  it("loads a conda environment.yml, adding python with a warning when none is named", () => {
    const r = loadDefinitionFile("environment.yml", "name: demo\ndependencies:\n  - numpy\n");
    expect(r.definition.name).toBe("demo");
    expect(r.definition.python.condaDependencies.dependencies).toContain("python=3.11");
    expect(r.warnings.map((w) => w.code)).toEqual(["W_PYTHON_ADDED"]);
  });

  it("loads a whole definition written as YAML or JSON to the same definition", () => {
    const yml = loadDefinitionFile(
      "env.yml",
      "name: a\npython:\n  condaDependencies:\n    dependencies: [python=3.11, {pip: [numpy]}]\n",
    );
    const json = loadDefinitionFile(
      "env.json",
      '{"python":{"condaDependencies":{"dependencies":["python=3.11",{"pip":["numpy"]}]}},"name":"a"}',
    );
    expect(yml.definition).toEqual(json.definition);
  });

  it("loads requirements.txt as conda python + pip block", () => {
    const r = loadDefinitionFile("requirements.txt", "numpy==1.26.0  # pinned\n\nrequests \\\n  >=2\n");
    expect(r.definition.name).toBe("requirements");
    expect(r.definition.python.condaDependencies.dependencies).toEqual([
      "python=3.11",
      "pip=24.2",
      { pip: ["numpy==1.26.0", "requests   >=2"] },
    ]);
  });

  it("reads full pip syntax: options, editables, hashes, includes through a loader, constraints dropped", () => {
    const text = [
      "--index-url http://127.0.0.1:9/simple",
      "--extra-index-url=http://127.0.0.1:8/simple",
      "-e git+https://example.invalid/x.git#egg=x",
      "numpy==1.26.4 --hash=sha256:aa --hash=sha256:bb",
      "-r more.txt",
      "-c constraints.txt",
      "",
    ].join("\n");
    const files: Record<string, string> = { "more.txt": "scipy==1.13.0\n", "constraints.txt": "urllib3<2\n" };
    const r = loadDefinitionFile("requirements.txt", text, {
      requirements: { loader: (path) => files[path.replace(/^.*\//, "")] ?? "" },
    });
    expect(r.definition.python.condaDependencies.dependencies?.[2]).toEqual({
      pip: [
        "--index-url http://127.0.0.1:9/simple",
        "--extra-index-url http://127.0.0.1:8/simple",
        "-e git+https://example.invalid/x.git#egg=x",
        "numpy==1.26.4 --hash=sha256:aa --hash=sha256:bb",
        "scipy==1.13.0",
      ],
    });
    expect(r.locations["python.condaDependencies.dependencies[2].pip[4]"]).toMatchObject({ line: 1 });
    expect(r.locations["python.condaDependencies.dependencies[2].pip[3]"]).toEqual({
      file: "requirements.txt",
      line: 4,
    });
    expect(r.warnings.map((w) => [w.code, w.line])).toEqual([["W_CONSTRAINT_DROPPED", 1]]);
  });

  it("reports includes without a loader as a located error", () => {
    try {
      loadDefinitionFile("requirements.txt", "numpy==1\n-r other.txt\n");
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: "E_SPEC_INVALID", file: "requirements.txt", line: 2 });
    }
  });

  it("rejects unknown file kinds", () => {
    expect(() => loadDefinitionFile("x.toml", "")).toThrow(
      expect.objectContaining({ code: "E_FILE_UNSUPPORTED" }),
    );
  });
});

describe("conda environment.yml", () => {
  it("parses and renders channels, dependencies, pip block, variables and prefix losslessly", () => {
    const text =
      "name: e\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip:\n      - numpy\nvariables:\n  A: x\nprefix: /opt/e\n";
    const { environment, locations } = parseCondaEnvironment(text);
    expect(environment).toEqual({
      name: "e",
      channels: ["conda-forge"],
      dependencies: ["python=3.11", { pip: ["numpy"] }],
      variables: { A: "x" },
      prefix: "/opt/e",
    });
    expect(locations["dependencies[1].pip[0]"]?.line).toBe(7);
    expect(parseCondaEnvironment(renderCondaEnvironment(environment)).environment).toEqual(environment);
  });

  it("treats an empty pip: block as an empty list", () => {
    const { environment } = parseCondaEnvironment("dependencies:\n  - python\n  - pip:\n");
    expect(environment.dependencies).toEqual(["python", { pip: [] }]);
  });
});
