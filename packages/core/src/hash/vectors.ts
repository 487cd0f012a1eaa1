import { loadDefinitionFile } from "../formats/folder";
import { parseDefinition } from "../spec/definition";
import { canonicalJson } from "./canonicalJson";
import { definitionHash, HASH_SCHEME, hashJson, imageKey } from "./hash";

/** The shape of hash-vectors.json. */
export interface HashVectors {
  scheme: string;
  canonical: { name: string; value: unknown; canonical: string; hash: string }[];
  definitions: {
    name: string;
    input?: unknown;
    file?: { name: string; text: string };
    definitionHash: string;
    imageKey: string;
  }[];
}

/** Compute vectors for the given inputs with this implementation (used to generate and to check). */
export function computeHashVectors(
  canonical: { name: string; value: unknown }[],
  definitions: { name: string; input?: unknown; file?: { name: string; text: string } }[],
): HashVectors {
  return {
    scheme: HASH_SCHEME,
    canonical: canonical.map((c) => ({ ...c, canonical: canonicalJson(c.value), hash: hashJson(c.value) })),
    definitions: definitions.map((d) => {
      const def = d.file ? loadDefinitionFile(d.file.name, d.file.text).definition : parseDefinition(d.input);
      return { ...d, definitionHash: definitionHash(def), imageKey: imageKey(def) };
    }),
  };
}
