import { describe, expect, it } from "vitest";
import { defaultCoreConfig } from "../config";
import { isCoreError } from "../errors";
import { createDefinition, parseDefinition, toReferenceJson } from "./definition";

describe("parseDefinition", () => {
  it("applies every default of the reference", () => {
    const def = createDefinition("my-env");
    expect(def.version).toBeNull();
    expect(def.environmentVariables).toEqual({});
    expect(def.inferencingStackVersion).toBeNull();
    expect(def.python).toEqual({
      userManagedDependencies: false,
      interpreterPath: "python",
      condaDependencies: {
        name: "project_environment",
        dependencies: [
          `python=${defaultCoreConfig.pythonVersion}`,
          `pip=${defaultCoreConfig.pipVersion}`,
          { pip: [] },
        ],
        channels: ["anaconda", "conda-forge"],
      },
      condaDependenciesFile: null,
      baseCondaEnvironment: null,
    });
    expect(def.docker).toEqual({
      enabled: false,
      baseImage: defaultCoreConfig.baseImages.cpu,
      baseDockerfile: null,
      baseImageRegistry: { address: null, username: null, password: null },
      sharedVolumes: true,
      shmSize: "2g",
      arguments: [],
      platform: { os: "Linux", architecture: "amd64" },
      gpuSupport: false,
      cudaVersion: null,
      systemPackages: [],
    });
    expect(def.spark).toEqual({ repositories: [], packages: [], precachePackages: true });
    expect(def.databricks).toEqual({
      mavenLibraries: [],
      pypiLibraries: [],
      rcranLibraries: [],
      jarLibraries: [],
      eggLibraries: [],
    });
    expect(def.r).toBeNull();
    expect(def.platforms).toEqual(["linux-64"]);
    expect(def.tags).toEqual({});
    expect(def.description).toBeNull();
  });

  it("uses a custom configuration for defaults", () => {
    const config = { ...defaultCoreConfig, pythonVersion: "3.9", platforms: ["linux-aarch64"] };
    const def = createDefinition("x", config);
    expect(def.python.condaDependencies.dependencies?.[0]).toBe("python=3.9");
    expect(def.platforms).toEqual(["linux-aarch64"]);
  });

  it("nulls the default base image when only a Dockerfile is given", () => {
    const def = parseDefinition({ name: "d", docker: { baseDockerfile: "FROM ubuntu:22.04\n" } });
    expect(def.docker.baseImage).toBeNull();
    expect(def.docker.baseDockerfile).toBe("FROM ubuntu:22.04\n");
  });

  it("rejects wrong types with the JSON path and code", () => {
    try {
      parseDefinition({ name: "x", docker: { shmSize: 5 } });
      expect.unreachable();
    } catch (e) {
      expect(isCoreError(e)).toBe(true);
      const err = e as { code: string; issues: { path: string }[]; message: string };
      expect(err.code).toBe("E_SPEC_INVALID");
      expect(err.issues[0]?.path).toBe("docker.shmSize");
      expect(err.message).toContain("received");
    }
  });

  it("writes the reference camelCase JSON with reference key order, and reads it back", () => {
    const def = parseDefinition({ name: "e", tags: { team: "a" }, environmentVariables: { A: "1" } });
    const json = toReferenceJson(def);
    expect(Object.keys(json)).toEqual([
      "name",
      "version",
      "environmentVariables",
      "python",
      "docker",
      "inferencingStackVersion",
      "spark",
      "databricks",
      "r",
      "description",
      "tags",
      "platforms",
    ]);
    expect(Object.keys(toReferenceJson(def, { referenceOnly: true }))).not.toContain("platforms");
    expect(parseDefinition(JSON.parse(JSON.stringify(json)))).toEqual(def);
  });
});
