import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { definitionJsonSchemaText } from "../src/spec/jsonSchema";

const target = join(import.meta.dirname, "..", "schema.json");
writeFileSync(target, definitionJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
