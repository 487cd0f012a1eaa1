/** One entry of a conda environment's `dependencies`: a match spec, or the pip block. */
export type CondaDependency = string | { pip: string[] };

/**
 * A definition (input) for a local conda channel: the Python environment is the conda
 * `dependencies` (pip block included) from `channels`, for `platforms` (linux-64, what the
 * fixture channels serve, unless given); `rest` holds the definition's other fields.
 */
export function localCondaDefinition(
  name: string,
  dependencies: CondaDependency[],
  {
    channels,
    platforms = ["linux-64"],
    ...rest
  }: { channels: string[]; platforms?: string[] } & Record<string, unknown>,
): Record<string, unknown> & { name: string } {
  return { name, platforms, ...rest, python: { condaDependencies: { channels, dependencies } } };
}
