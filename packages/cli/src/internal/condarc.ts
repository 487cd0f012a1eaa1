import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseDocument } from "yaml";
import { CliError } from "../context";

/** conda's built-in `default_channels` (non-Windows), what the channel name `defaults` means. */
export const CONDA_DEFAULT_CHANNELS = [
  "https://repo.anaconda.com/pkgs/main",
  "https://repo.anaconda.com/pkgs/r",
];

/** The channel settings of the user's conda configuration. */
export interface CondaChannelConfig {
  /** `channels`: used by a definition that lists none (`defaults` when nothing sets it). */
  channels: string[];
  /** `default_channels`: what `defaults` stands for. */
  defaultChannels: string[];
  /** The files (and variables) that set either list, highest precedence first. */
  sources: string[];
}

/**
 * conda's search path for configuration files, lowest precedence first (conda's
 * `SEARCH_PATH`): system files, the base installation, the user's files, the active
 * environment, then `$CONDARC`. Unset variables drop their entries.
 */
export function condarcSearchPath(env: Record<string, string | undefined>): string[] {
  const home = env.HOME || homedir();
  const inDir = (dir: string | undefined) =>
    dir ? [join(dir, ".condarc"), join(dir, "condarc"), join(dir, "condarc.d")] : [];
  const paths = [
    ...inDir("/etc/conda"),
    ...inDir("/var/lib/conda"),
    ...inDir(env.CONDA_ROOT),
    ...inDir(env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, "conda") : undefined),
    ...inDir(join(home, ".config", "conda")),
    ...inDir(join(home, ".conda")),
    join(home, ".condarc"),
    ...inDir(env.CONDA_PREFIX),
    ...(env.CONDARC ? [env.CONDARC] : []),
  ];
  return paths.filter((p, i) => paths.indexOf(p) === i);
}

/** The files a search-path entry stands for: itself, or a `condarc.d` folder's YAML files. */
function filesOf(path: string): string[] {
  if (!existsSync(path)) return [];
  const st = statSync(path);
  if (st.isFile()) return [path];
  if (!st.isDirectory()) return [];
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f));
}

function stringList(file: string, key: string, value: unknown): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.trim() === "")) {
    throw new CliError(
      "E_CONFIG",
      `Expected ${key} in ${file} to be a list of channel names or URLs such as [conda-forge, defaults]; received ${JSON.stringify(value).slice(0, 200)}`,
    );
  }
  return value.map((v: string) => v.trim());
}

/**
 * The `channels` and `default_channels` of the user's conda configuration, merged as conda
 * merges lists: entries of the higher-precedence file first, duplicates dropped. The
 * `CONDA_CHANNELS` / `CONDA_DEFAULT_CHANNELS` variables (comma-separated) come before every
 * file. Unset lists take conda's defaults: `channels: [defaults]`, and `default_channels`
 * {@link CONDA_DEFAULT_CHANNELS}.
 */
export function readCondaChannelConfig(env: Record<string, string | undefined>): CondaChannelConfig {
  const found: { source: string; channels?: string[]; defaultChannels?: string[] }[] = [];
  for (const entry of condarcSearchPath(env)) {
    for (const file of filesOf(entry)) {
      const doc = parseDocument(readFileSync(file, "utf8"));
      const problem = doc.errors[0];
      if (problem) {
        const line = problem.linePos?.[0]?.line;
        throw new CliError(
          "E_CONFIG",
          `Expected ${file} to be YAML conda configuration${line ? ` (line ${line})` : ""}: ${problem.message.split("\n")[0]}`,
        );
      }
      const data = doc.toJS() as unknown;
      if (data === null || data === undefined) continue;
      if (typeof data !== "object" || Array.isArray(data)) {
        throw new CliError(
          "E_CONFIG",
          `Expected ${file} to be a YAML mapping such as "channels: [conda-forge]"`,
        );
      }
      const rec = data as Record<string, unknown>;
      const item: (typeof found)[number] = { source: file };
      if ("channels" in rec) item.channels = stringList(file, "channels", rec.channels);
      if ("default_channels" in rec)
        item.defaultChannels = stringList(file, "default_channels", rec.default_channels);
      if (item.channels || item.defaultChannels) found.push(item);
    }
  }
  const fromVar = (name: string) =>
    env[name]
      ?.split(",")
      .map((s) => s.trim())
      .filter(Boolean);
  const varChannels = fromVar("CONDA_CHANNELS");
  const varDefaults = fromVar("CONDA_DEFAULT_CHANNELS");
  if (varChannels?.length) found.push({ source: "$CONDA_CHANNELS", channels: varChannels });
  if (varDefaults?.length) found.push({ source: "$CONDA_DEFAULT_CHANNELS", defaultChannels: varDefaults });
  // Highest precedence first.
  found.reverse();
  const merge = (key: "channels" | "defaultChannels"): string[] | undefined => {
    const lists = found.filter((f) => f[key] !== undefined).map((f) => f[key] as string[]);
    if (!lists.length) return undefined;
    const out: string[] = [];
    for (const v of lists.flat()) if (!out.includes(v)) out.push(v);
    return out;
  };
  return {
    channels: merge("channels") ?? ["defaults"],
    defaultChannels: merge("defaultChannels") ?? CONDA_DEFAULT_CHANNELS,
    sources: found.map((f) => f.source),
  };
}
