import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { computeHashVectors } from "../src/hash/vectors";
import { canonicalInputs, definitionInputs } from "./hashVectorInputs";

// Only run this when the hashing scheme deliberately changes (and bump HASH_SCHEME's version).
const target = join(import.meta.dirname, "..", "hash-vectors.json");
writeFileSync(target, `${JSON.stringify(computeHashVectors(canonicalInputs, definitionInputs), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
