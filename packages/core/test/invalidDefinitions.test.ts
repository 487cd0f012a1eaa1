import { describe, expect, it } from "vitest";
import vectors from "../invalid-definitions.json";
import { parseDefinition } from "../src/spec/definition";
import { validateDefinition } from "../src/validate/validate";

// The definitions every registry path must refuse (the server walks its routes with them too).
describe("invalid-definitions.json", () => {
  it.each(vectors.definitions.map((d) => [d.name, d] as const))("%s", (_name, vector) => {
    let found: string[];
    try {
      found = validateDefinition(parseDefinition(vector.input))
        .filter((i) => i.severity === "error")
        .map((i) => i.code);
    } catch (e) {
      found = [(e as { code: string }).code];
    }
    expect(found).toEqual(vector.codes);
  });
});
