import {
  type CoreConfig,
  createDefinition,
  defaultCoreConfig,
  type EnvironmentDefinition,
} from "@mlenv/core";

/** Names starting with this prefix are reserved for curated environments. */
export const RESERVED_PREFIX = "mlenv-";

/** True when `name` is reserved for curated environments (case-insensitive, like the reference). */
export function isReservedName(name: string): boolean {
  return name.toLowerCase().startsWith(RESERVED_PREFIX);
}

function withPip(def: EnvironmentDefinition, pip: string[]): EnvironmentDefinition {
  const conda = def.python.condaDependencies;
  const deps = (conda.dependencies ?? []).map((d) => (typeof d === "string" ? d : { ...d, pip: [...pip] }));
  return { ...def, python: { ...def.python, condaDependencies: { ...conda, dependencies: deps } } };
}

/**
 * The curated environments seeded into every workspace, read-only; they build on the server's
 * configured default base image (`config.baseImages`).
 */
export function curatedDefinitions(config: CoreConfig = defaultCoreConfig): EnvironmentDefinition[] {
  const minimal = createDefinition("mlenv-minimal", config);
  minimal.description = "Curated: Python and pip only.";
  minimal.tags = { curated: "true" };
  const tutorial = withPip(createDefinition("mlenv-tutorial", config), [
    "pandas==2.2.3",
    "numpy==2.1.3",
    "scikit-learn==1.5.2",
    "matplotlib==3.9.2",
    "tqdm==4.67.1",
  ]);
  tutorial.description = "Curated: pandas, numpy, scikit-learn, matplotlib and tqdm for tutorials.";
  tutorial.tags = { curated: "true" };
  return [minimal, tutorial];
}
