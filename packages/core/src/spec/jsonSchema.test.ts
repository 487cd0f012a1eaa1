import { describe, expect, it } from "vitest";
import committed from "../../schema.json";
import { definitionJsonSchema } from "./jsonSchema";

describe("schema.json", () => {
  it("matches the zod schema (run `pnpm --filter @mlenv/core gen:schema` when this fails)", () => {
    expect(committed).toEqual(definitionJsonSchema());
  });

  it("describes the reference sections and mlenv additions", () => {
    const props = (committed as { properties: Record<string, unknown> }).properties;
    for (const key of [
      "name",
      "python",
      "docker",
      "spark",
      "databricks",
      "r",
      "tags",
      "platforms",
      "description",
    ]) {
      expect(props).toHaveProperty(key);
    }
    expect((committed as { required: string[] }).required).toEqual(["name"]);
  });
});
