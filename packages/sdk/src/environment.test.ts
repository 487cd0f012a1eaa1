import { definitionHash, parseDefinition } from "@mlenv/core";
import { describe, expect, it } from "vitest";
import { Environment } from "./environment";
import { isMlenvError } from "./errors";

describe("Environment (local)", () => {
  it("new Environment(name) has the reference defaults and is unregistered", () => {
    const env = new Environment("my-env");
    expect(env.name).toBe("my-env");
    expect(env.version).toBeNull();
    expect(env.docker.enabled).toBe(false);
    expect(env.python.userManagedDependencies).toBe(false);
    expect(env.python.condaDependencies.pythonVersion).toBeDefined();
    expect(env.registration).toBeUndefined();
    expect(env.toDefinition()).toEqual(parseDefinition({ name: "my-env" }));
  });

  it("editing python.condaDependencies changes the definition and its hash", () => {
    const env = new Environment("e");
    const before = env.definitionHash;
    env.python.condaDependencies.addPipPackage("numpy==1.26.4");
    expect(env.toDefinition().python.condaDependencies.dependencies).toContainEqual({
      pip: ["numpy==1.26.4"],
    });
    expect(env.definitionHash).not.toBe(before);
    expect(env.definitionHash).toBe(definitionHash(env.toDefinition()));
  });

  it("environmentVariables and docker are editable and are not hashed into imageKey by name", () => {
    const env = new Environment("a");
    env.environmentVariables.MODE = "train";
    env.docker.enabled = true;
    expect(env.toDefinition().environmentVariables).toEqual({ MODE: "train" });
    expect(env.toDefinition().docker.enabled).toBe(true);
    expect(env.clone("b").imageKey).toBe(env.imageKey);
  });

  it("clone() is a local, unregistered copy under a new name", () => {
    const env = Environment.fromDefinition({ name: "a", version: "3" });
    const copy = env.clone("b");
    expect(copy.name).toBe("b");
    expect(copy.version).toBeNull();
    copy.python.condaDependencies.addCondaPackage("numpy");
    expect(env.python.condaDependencies.condaPackages).not.toContain("numpy");
  });

  it("fromCondaSpecification keeps the document and adds python with a warning when none is named", () => {
    const env = Environment.fromCondaSpecification(
      "from-conda",
      "name: whatever\nchannels: [conda-forge]\ndependencies:\n  - numpy=1.26\n  - pip:\n    - requests==2.32.3\n",
    );
    expect(env.name).toBe("from-conda");
    expect(env.python.condaDependencies.channels).toEqual(["conda-forge"]);
    expect(env.python.condaDependencies.pipPackages).toEqual(["requests==2.32.3"]);
    expect(env.python.condaDependencies.pythonVersion).toBeDefined();
    expect(env.warnings.map((w) => w.code)).toContain("W_PYTHON_ADDED");
  });

  it("fromPipRequirements makes conda python + pip with the requirements as the pip block", () => {
    const env = Environment.fromPipRequirements("from-pip", "numpy==1.26.4\n# comment\npandas>=2\n");
    expect(env.python.condaDependencies.pipPackages).toEqual(["numpy==1.26.4", "pandas>=2"]);
    expect(env.python.condaDependencies.condaPackages.some((p) => p.startsWith("python"))).toBe(true);
  });

  it("fromDockerfile / fromDockerImage are user-managed unless a conda or pip file is given", () => {
    const df = Environment.fromDockerfile("d", "FROM debian:bookworm\n");
    expect(df.python.userManagedDependencies).toBe(true);
    expect(df.docker.baseDockerfile).toBe("FROM debian:bookworm\n");
    expect(df.docker.baseImage).toBeNull();
    const img = Environment.fromDockerImage("i", "python:3.11-slim", { pipRequirements: "numpy==1.26.4\n" });
    expect(img.python.userManagedDependencies).toBe(false);
    expect(img.docker.baseImage).toBe("python:3.11-slim");
    expect(img.python.condaDependencies.pipPackages).toEqual(["numpy==1.26.4"]);
  });

  it("rejects an empty name with E_INVALID_ARGUMENT and an invalid field with core's E_SPEC_INVALID", () => {
    let caught: unknown;
    try {
      new Environment("");
    } catch (e) {
      caught = e;
    }
    expect(isMlenvError(caught, "E_INVALID_ARGUMENT")).toBe(true);
    const env = new Environment("x");
    (env as unknown as { platforms: unknown }).platforms = "linux-64";
    expect(() => env.toDefinition()).toThrow(expect.objectContaining({ code: "E_SPEC_INVALID" }));
  });
});
