import { parseDefinition, renderDockerBuild, toReferenceJson } from "@mlenv/core";
import { stringify } from "yaml";

/**
 * A stored definition (canonical JSON: keys sorted) in the reference's key order, for reading and
 * diffing; as stored when core cannot parse it.
 */
export function readableDefinition(definition: unknown): unknown {
  try {
    return toReferenceJson(parseDefinition(definition));
  } catch {
    return definition;
  }
}

/** A registered definition as YAML, in the reference's key order. */
export function definitionYaml(definition: unknown): string {
  return stringify(readableDefinition(definition), { lineWidth: 0 });
}

export function definitionJson(definition: unknown): string {
  return `${JSON.stringify(readableDefinition(definition), null, 2)}\n`;
}

/** The Dockerfile core renders for a definition, or why it cannot be rendered. */
export function dockerfileOf(definition: unknown): { text: string } | { error: string } {
  try {
    return { text: renderDockerBuild(parseDefinition(definition)).dockerfile };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
