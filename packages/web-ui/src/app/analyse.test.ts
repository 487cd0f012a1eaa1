import { definitionHash, parseDefinition } from "@mlenv/core";
import { describe, expect, it } from "vitest";
import { analyseSource, detectFormat, formatOfFile, parseTags } from "./analyse";

const YAML = `name: vision
channels:
  - conda-forge
dependencies:
  - python=3.11
  - numpy=1.26.4
`;

describe("analyseSource (the New environment page's in-browser check)", () => {
  it("gives the hash the server computes from the definition it will send", () => {
    const a = analyseSource({ format: "auto", text: YAML, description: "d", tags: "team=cv, gpu" });
    expect(a.format).toBe("yaml");
    expect(a.issues.filter((i) => i.severity === "error")).toEqual([]);
    expect(a.definition?.name).toBe("vision");
    expect(a.definition?.tags).toEqual({ team: "cv", gpu: "" });
    expect(a.hash).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
    // What the server does with the body: parseDefinition then definitionHash.
    expect(definitionHash(parseDefinition(JSON.parse(JSON.stringify(a.definition))))).toBe(a.hash);
    // Dependency order does not change the hash.
    const swapped = YAML.replace("  - python=3.11\n  - numpy=1.26.4", "  - numpy=1.26.4\n  - python=3.11");
    expect(analyseSource({ format: "yaml", text: swapped }).hash).toBe(a.hash);
  });

  it("locates YAML syntax errors on their line", () => {
    const a = analyseSource({ format: "yaml", text: "name: x\ndependencies:\n  - python=3.11\n  bad: [\n" });
    expect(a.definition).toBeNull();
    expect(a.hash).toBeNull();
    expect(a.issues[0]?.severity).toBe("error");
    expect(a.issues[0]?.line).toBeGreaterThanOrEqual(3);
  });

  it("locates validation errors and warnings on the line that caused them", () => {
    const text = "name: x\ndependencies:\n  - python=3.11\n  - numpy\n  - python=3.10\n";
    const a = analyseSource({ format: "yaml", text });
    const unpinned = a.issues.find((i) => i.code === "W_UNPINNED");
    expect(unpinned?.line).toBe(4);
    const multiple = a.issues.find((i) => i.code === "E_PYTHON_MULTIPLE");
    expect(multiple?.severity).toBe("error");
  });

  it("refuses the reserved curated prefix and takes a name override", () => {
    expect(
      analyseSource({ format: "yaml", text: YAML, name: "mlenv-mine" }).issues.map((i) => i.code),
    ).toContain("E_NAME_RESERVED");
    const req = analyseSource({ format: "requirements", text: "requests==2.32.3\n", name: "web" });
    expect(req.definition?.name).toBe("web");
    expect(req.hash).toMatch(/^mlenv1-sha256:/);
  });

  it("detects formats from text and file names and parses tags", () => {
    expect(detectFormat('{"name":"x"}')).toBe("json");
    expect(detectFormat("# comment\nname: x\n")).toBe("yaml");
    expect(detectFormat("numpy==1.0\nrequests\n")).toBe("requirements");
    expect(formatOfFile("environment.YML")).toBe("yaml");
    expect(formatOfFile("reqs.txt")).toBe("requirements");
    expect(formatOfFile("def.json")).toBe("json");
    expect(formatOfFile("Dockerfile")).toBeNull();
    expect(parseTags(" a=1 , b ,, c = x=y ")).toEqual({ a: "1", b: "", c: "x=y" });
  });
});
