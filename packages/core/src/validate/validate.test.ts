import { describe, expect, it } from "vitest";
import { FolderFiles, loadDefinitionFolder } from "../formats/folder";
import { type EnvironmentDefinitionInput, parseDefinition } from "../spec/definition";
import { assertValidDefinition, validateDefinition } from "./validate";

const ok: EnvironmentDefinitionInput = {
  name: "ok-env",
  docker: { baseImage: "ubuntu:22.04" },
  python: {
    condaDependencies: {
      channels: ["conda-forge"],
      dependencies: ["python=3.11", { pip: ["numpy==1.26.4"] }],
    },
  },
};
function v(patch: (d: Record<string, unknown> & EnvironmentDefinitionInput) => void, opts = {}) {
  const copy = JSON.parse(JSON.stringify(ok));
  patch(copy);
  return validateDefinition(parseDefinition(copy), opts);
}
const codes = (issues: { code: string }[]) => issues.map((i) => i.code);

describe("validateDefinition", () => {
  it("accepts a pinned definition without issues", () => {
    expect(v(() => {})).toEqual([]);
  });

  it.each([
    ["", "E_SPEC_INVALID"],
    ["a".repeat(256), "E_NAME_INVALID"],
    ["has space", "E_NAME_INVALID"],
    ["-leading", "E_NAME_INVALID"],
    ["../etc", "E_NAME_INVALID"],
  ])("rejects the name %j", (name, code) => {
    if (code === "E_SPEC_INVALID") {
      expect(codes(v((d) => (d.name = name)))).toEqual(["E_NAME_INVALID"]);
    } else {
      expect(codes(v((d) => (d.name = name)))).toEqual([code]);
    }
  });

  it("accepts a 255-character name", () => {
    expect(v((d) => (d.name = "a".repeat(255)))).toEqual([]);
  });

  it("reserves the mlenv- prefix in any case unless seeding curated environments", () => {
    expect(codes(v((d) => (d.name = "MLenv-minimal")))).toEqual(["E_NAME_RESERVED"]);
    expect(v((d) => (d.name = "mlenv-minimal"), { allowReservedName: true })).toEqual([]);
    expect(v((d) => (d.name = "mlenvish"))).toEqual([]);
  });

  it("requires exactly one of base image and Dockerfile", () => {
    expect(codes(v((d) => (d.docker = { baseImage: null })))).toEqual(["E_BASE_MISSING"]);
    expect(codes(v((d) => (d.docker = { baseImage: "ubuntu:22.04", baseDockerfile: "FROM x\n" })))).toEqual([
      "E_BASE_CONFLICT",
    ]);
  });

  it("limits a Dockerfile to 100 KB", () => {
    const at = `FROM ubuntu:22.04\n${"#".repeat(100 * 1024 - 19)}\n`;
    expect(at.length).toBe(100 * 1024);
    expect(v((d) => (d.docker = { baseDockerfile: at }))).toEqual([]);
    expect(codes(v((d) => (d.docker = { baseDockerfile: `${at}#` })))).toEqual(["E_DOCKERFILE_TOO_LARGE"]);
  });

  it("rejects a Dockerfile that changes the escape character (mlenv's appended layers use backslash)", () => {
    const df = "# escape=`\nFROM mcr.microsoft.com/windows/servercore:ltsc2022\n";
    expect(codes(v((d) => (d.docker = { baseDockerfile: df })))).toEqual(["E_DOCKERFILE_DIRECTIVE"]);
    expect(v((d) => (d.docker = { baseDockerfile: "# escape=\\\nFROM ubuntu:22.04\n" }))).toEqual([]);
    expect(v((d) => (d.docker = { baseDockerfile: "FROM ubuntu:22.04\n# escape=`\n" }))).toEqual([]);
  });

  it("requires exactly one python unless dependencies are user-managed", () => {
    const none = v((d) => (d.python!.condaDependencies!.dependencies = ["numpy=1.26"]));
    expect(codes(none)).toEqual(["E_PYTHON_MISSING"]);
    expect(none[0]?.path).toBe("python.condaDependencies.dependencies");
    const two = v((d) => d.python!.condaDependencies!.dependencies!.push("python>=3.12"));
    expect(codes(two)).toEqual(["E_PYTHON_MULTIPLE"]);
    expect(two[0]?.path).toBe("python.condaDependencies.dependencies[2]");
    expect(v((d) => d.python!.condaDependencies!.dependencies!.push("python = 3.11"))).toEqual([]);
    expect(
      v((d) => {
        d.python!.condaDependencies!.dependencies = [];
        d.python!.userManagedDependencies = true;
      }),
    ).toEqual([]);
  });

  const hostile = ["numpy\nRUN curl evil", "numpy`id`", "numpy$(id)", "numpy\0", "numpy\r"];
  it.each(hostile)("rejects hostile value %j in every field reaching a Dockerfile or shell", (bad) => {
    const cases: [string, (d: Record<string, unknown> & EnvironmentDefinitionInput) => void][] = [
      [
        "python.condaDependencies.dependencies[2]",
        (d) => d.python!.condaDependencies!.dependencies!.push(bad),
      ],
      [
        "python.condaDependencies.dependencies[1].pip[1]",
        (d) => (d.python!.condaDependencies!.dependencies![1] as { pip: string[] }).pip.push(bad),
      ],
      ["python.condaDependencies.channels[1]", (d) => d.python!.condaDependencies!.channels!.push(bad)],
      ["python.condaDependencies.variables.A", (d) => (d.python!.condaDependencies!.variables = { A: bad })],
      ["environmentVariables.A", (d) => (d.environmentVariables = { A: bad })],
      ["docker.baseImage", (d) => (d.docker = { baseImage: `ubuntu:22.04${bad}` })],
      ["docker.arguments[0]", (d) => (d.docker = { baseImage: "ubuntu:22.04", arguments: [bad] })],
      ["python.interpreterPath", (d) => (d.python!.interpreterPath = bad)],
      ["platforms[0]", (d) => (d.platforms = [bad])],
    ];
    for (const [path, patch] of cases) {
      const issues = v(patch).filter((i) => i.code === "E_UNSAFE_VALUE");
      expect(
        issues.map((i) => i.path),
        path,
      ).toEqual([path]);
      expect(issues[0]?.message).toContain("received");
    }
  });

  it("warns about unpinned packages, untagged and latest base images, local paths", () => {
    const issues = v((d) => {
      d.docker = { baseImage: "ubuntu" };
      d.python!.condaDependencies!.dependencies!.push("scipy", "pytorch::torchvision");
      (d.python!.condaDependencies!.dependencies![1] as { pip: string[] }).pip.push(
        "requests",
        "flask[async]; python_version > '3'",
        "-e .",
        "clip @ git+https://github.com/openai/CLIP.git",
        "--extra-index-url http://127.0.0.1:9/simple",
      );
    });
    expect(issues.every((i) => i.severity === "warning")).toBe(true);
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ["W_UNTAGGED_IMAGE", "docker.baseImage"],
      ["W_UNPINNED", "python.condaDependencies.dependencies[1].pip[1]"],
      ["W_UNPINNED", "python.condaDependencies.dependencies[1].pip[2]"],
      ["W_LOCAL_PATH", "python.condaDependencies.dependencies[1].pip[3]"],
      ["W_UNPINNED", "python.condaDependencies.dependencies[2]"],
      ["W_UNPINNED", "python.condaDependencies.dependencies[3]"],
    ]);
    expect(codes(v((d) => (d.docker = { baseImage: "ubuntu:latest" })))).toEqual(["W_UNTAGGED_IMAGE"]);
    expect(v((d) => (d.docker = { baseImage: `ubuntu@sha256:${"a".repeat(64)}` }))).toEqual([]);
    expect(v((d) => (d.docker = { baseImage: "localhost:5000/team/base:1.0" }))).toEqual([]);
  });

  it("puts file and line on issues from a loaded folder", () => {
    const loaded = loadDefinitionFolder({
      [FolderFiles.definition]: '{\n  "name": "x",\n  "docker": {"baseImage": "ubuntu:22.04"}\n}\n',
      [FolderFiles.conda]: "dependencies:\n  - python=3.11\n  - pip:\n    - numpy==1`id`\n",
    });
    const issues = validateDefinition(loaded.definition, { locations: loaded.locations });
    expect(issues).toEqual([
      expect.objectContaining({
        code: "E_UNSAFE_VALUE",
        path: "python.condaDependencies.dependencies[1].pip[0]",
        file: "conda_dependencies.yml",
        line: 4,
      }),
    ]);
    expect(() => assertValidDefinition(loaded.definition, { locations: loaded.locations })).toThrow(
      /conda_dependencies\.yml:4: .*backtick/,
    );
  });
});
