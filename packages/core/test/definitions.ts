import type { EnvironmentDefinitionInput } from "../src/spec/definition";

type CondaInput = NonNullable<NonNullable<EnvironmentDefinitionInput["python"]>["condaDependencies"]>;

/**
 * A definition (input) whose Python environment is the conda `dependencies` (pip block included)
 * from `channels` (conda-forge, then defaults, unless given); `rest` holds its other fields.
 */
export function condaDefinition(
  name: string,
  dependencies: CondaInput["dependencies"],
  {
    channels = ["conda-forge", "defaults"],
    ...rest
  }: Omit<EnvironmentDefinitionInput, "name" | "python"> & {
    channels?: string[];
  } = {},
): EnvironmentDefinitionInput {
  return { name, ...rest, python: { condaDependencies: { channels, dependencies } } };
}
