import * as z from "zod";
import { EnvironmentDefinitionSchema } from "./definition";

/** The JSON Schema (draft 2020-12) of what a user may write, generated from the zod schema. */
export function definitionJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(EnvironmentDefinitionSchema, { io: "input", unrepresentable: "any" });
  return {
    ...schema,
    $id: "https://mlenv.dev/schema/environment-definition.json",
    title: "mlenv environment definition",
    description:
      "An mlenv environment definition: the reference's azureml_environment.json camelCase shape plus description, tags and platforms.",
  };
}

/** The committed schema.json text. */
export function definitionJsonSchemaText(): string {
  return `${JSON.stringify(definitionJsonSchema(), null, 2)}\n`;
}
