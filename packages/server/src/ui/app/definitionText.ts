import { parseDefinition, renderDockerBuild } from "@mlenv/core";
import { stringify } from "yaml";

/** A registered definition as YAML (the JSON form, key order kept). */
export function definitionYaml(definition: unknown): string {
  return stringify(definition, { lineWidth: 0 });
}

export function definitionJson(definition: unknown): string {
  return `${JSON.stringify(definition, null, 2)}\n`;
}

/** The Dockerfile core renders for a definition, or why it cannot be rendered. */
export function dockerfileOf(definition: unknown): { text: string } | { error: string } {
  try {
    return { text: renderDockerBuild(parseDefinition(definition)).dockerfile };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}
