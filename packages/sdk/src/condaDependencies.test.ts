import { defaultCoreConfig, validateDefinition } from "@mlenv/core";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { CondaDependencies, condaSpecName, pipLineName } from "./condaDependencies";
import { Environment } from "./environment";
import { isMlenvError } from "./errors";
import { Estimator } from "./runs";

describe("CondaDependencies", () => {
  it("create() uses the reference's default channels and puts pip options before requirements", () => {
    const cd = CondaDependencies.create({
      pythonVersion: "3.10",
      condaPackages: ["numpy=1.26"],
      pipPackages: ["scikit-learn==1.4.2"],
      pipOptions: ["--index-url https://pypi.example/simple"],
    });
    expect(cd.toDocument()).toEqual({
      channels: ["anaconda", "conda-forge"],
      dependencies: [
        "python=3.10",
        "numpy=1.26",
        "pip",
        { pip: ["--index-url https://pypi.example/simple", "scikit-learn==1.4.2"] },
      ],
    });
    expect(cd.pythonVersion).toBe("3.10");
    expect(cd.pipOptions).toEqual(["--index-url https://pypi.example/simple"]);
    expect(cd.pipPackages).toEqual(["scikit-learn==1.4.2"]);
  });

  it("adding a pip package that exists replaces it by PEP 503 normalised name, in place", () => {
    const cd = CondaDependencies.create({ pipPackages: ["Scikit_Learn==1.3", "pandas"] });
    cd.addPipPackage("scikit-learn==1.4.2");
    expect(cd.pipPackages).toEqual(["scikit-learn==1.4.2", "pandas"]);
    cd.addPipPackage("PANDAS>=2");
    expect(cd.pipPackages).toEqual(["scikit-learn==1.4.2", "PANDAS>=2"]);
    cd.removePipPackage("scikit.learn");
    expect(cd.pipPackages).toEqual(["PANDAS>=2"]);
  });

  it("adding a conda package that exists replaces it, keeping it before the pip block", () => {
    const cd = CondaDependencies.create({ pythonVersion: "3.9", pipPackages: ["torch"] });
    cd.addCondaPackage("conda-forge::numpy >=1.20");
    cd.addCondaPackage("numpy=1.26.4");
    cd.setPythonVersion("3.11");
    const deps = cd.toDocument().dependencies ?? [];
    expect(deps).toEqual(["python=3.11", "pip", "numpy=1.26.4", { pip: ["torch"] }]);
    cd.removeCondaPackage("NumPy");
    expect(cd.condaPackages).toEqual(["python=3.11", "pip"]);
  });

  it("channels are added once, in priority order, and removable", () => {
    const cd = CondaDependencies.create({ channels: ["conda-forge"] });
    cd.addChannel("pytorch").addChannel("conda-forge");
    expect(cd.channels).toEqual(["conda-forge", "pytorch"]);
    cd.removeChannel("conda-forge");
    expect(cd.channels).toEqual(["pytorch"]);
  });

  it("setPipOption replaces single-valued options and keeps repeatable ones distinct", () => {
    const cd = CondaDependencies.create({ pipPackages: ["numpy"] });
    cd.setPipOption("--index-url https://a.example/simple");
    cd.setPipOption("--index-url https://b.example/simple");
    cd.setPipOption("--extra-index-url https://c.example/simple");
    cd.setPipOption("--extra-index-url https://d.example/simple");
    expect(cd.pipOptions).toEqual([
      "--index-url https://b.example/simple",
      "--extra-index-url https://c.example/simple",
      "--extra-index-url https://d.example/simple",
    ]);
    cd.removePipOption("--extra-index-url");
    expect(cd.pipOptions).toEqual(["--index-url https://b.example/simple"]);
    expect(cd.pipPackages).toEqual(["numpy"]);
  });

  it("setPipRequirements replaces the whole pip block", () => {
    const cd = CondaDependencies.create({ pipPackages: ["numpy", "pandas"] });
    cd.setPipRequirements(["--pre", "torch==2.3.0"]);
    expect(cd.pipOptions).toEqual(["--pre"]);
    expect(cd.pipPackages).toEqual(["torch==2.3.0"]);
  });

  it("serialize() writes YAML that parses back to the same document", () => {
    const cd = CondaDependencies.create({ pythonVersion: "3.10", pipPackages: ["numpy==1.26.4"] });
    expect(parse(cd.serialize())).toEqual(cd.toDocument());
    expect(CondaDependencies.fromYaml(cd.serialize()).toDocument()).toEqual(cd.toDocument());
  });

  it("toDocument() is a copy: editing it does not change the object", () => {
    const cd = CondaDependencies.create({ pipPackages: ["numpy"] });
    const doc = cd.toDocument();
    doc.channels?.push("evil");
    expect(cd.channels).toEqual(["anaconda", "conda-forge"]);
  });

  it.each([
    ["numpy\nRUN curl evil", "addPipPackage"],
    ["numpy`id`", "addCondaPackage"],
    ["$(reboot)", "addChannel"],
    ["", "addPipPackage"],
    ["--index-url x", "addPipPackage"],
    ["3.10; rm -rf /", "setPythonVersion"],
  ] as const)("rejects hostile or malformed input %j in %s with E_INVALID_ARGUMENT", (value, method) => {
    const cd = CondaDependencies.create();
    let caught: unknown;
    try {
      cd[method](value);
    } catch (e) {
      caught = e;
    }
    expect(isMlenvError(caught, "E_INVALID_ARGUMENT")).toBe(true);
    expect(cd.toDocument()).toEqual(CondaDependencies.create().toDocument());
  });

  it("fromYaml rejects a non-mapping document with a message naming what it received", () => {
    expect(() => CondaDependencies.fromYaml("- a\n- b\n")).toThrow(
      /Expected a conda environment YAML mapping/,
    );
  });
});

describe("name helpers", () => {
  it.each([
    ["numpy==1.26", "numpy"],
    ["Scikit_Learn [alldeps] >= 1.0", "scikit-learn"],
    ["torch @ https://download.example/torch-2.3.0-cp310-linux_x86_64.whl", "torch"],
    ["https://files.example/my_pkg-1.0-py3-none-any.whl", "my-pkg"],
    ["git+https://github.com/org/repo.git#egg=My.Pkg", "my-pkg"],
    ["--index-url https://x", null],
  ])("pipLineName(%j) = %j", (line, name) => {
    expect(pipLineName(line)).toBe(name);
  });

  it.each([
    ["numpy=1.26", "numpy"],
    ["conda-forge::NumPy >=1.2", "numpy"],
    ["python", "python"],
    ["pytorch[version='>=2']", "pytorch"],
  ])("condaSpecName(%j) = %j", (spec, name) => {
    expect(condaSpecName(spec)).toBe(name);
  });
});

describe("the reference's snippets make buildable definitions", () => {
  const errors = (env: Environment) =>
    validateDefinition(env.toDefinition()).filter((i) => i.severity === "error");

  it("new CondaDependencies() carries a python, as the reference's CondaDependencies() does", () => {
    const cd = new CondaDependencies();
    expect(cd.pythonVersion).toBe(defaultCoreConfig.pythonVersion);
    expect(cd.channels).toEqual(["anaconda", "conda-forge"]);
    const env = new Environment("snippet");
    env.python.condaDependencies = cd.addPipPackage("numpy==1.26.4");
    expect(errors(env)).toEqual([]);
    expect(CondaDependencies.create({ pipPackages: ["numpy==1.26.4"] }).pythonVersion).toBe(
      defaultCoreConfig.pythonVersion,
    );
  });

  it("an Estimator without pythonVersion gets the default python", () => {
    const est = new Estimator({ entryScript: "train.py", pipPackages: ["numpy==1.26.4"] });
    const env = est.environment as Environment;
    expect(env.python.condaDependencies.pythonVersion).toBe(defaultCoreConfig.pythonVersion);
    expect(errors(env)).toEqual([]);
  });
});
