import { z } from "zod";
import { LockSchema } from "./lock";

/** JSON Schema of `mlenv.lock` (draft 2020-12), generated from the zod schema. */
export function lockJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(LockSchema, { io: "input" }) as Record<string, unknown>;
  return {
    ...schema,
    title: "mlenv.lock",
    description: "Exact artifacts per platform of a locked mlenv environment.",
  };
}

/** The committed `lock.schema.json` text. */
export function lockJsonSchemaText(): string {
  return `${JSON.stringify(lockJsonSchema(), null, 2)}\n`;
}
