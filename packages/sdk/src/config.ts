import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { Workspace } from "./workspace";

/** What `mlenv login` stores: one server and its token. */
export interface MlenvConfig {
  url?: string;
  token?: string;
}

/** Environment variables that locate the config file and the workspace. */
export interface ConfigEnv {
  MLENV_CONFIG?: string | undefined;
  MLENV_URL?: string | undefined;
  MLENV_TOKEN?: string | undefined;
  XDG_CONFIG_HOME?: string | undefined;
  HOME?: string | undefined;
}

/** `$MLENV_CONFIG`, else `$XDG_CONFIG_HOME/mlenv/config.json`, else `~/.config/mlenv/config.json`. */
export function configPath(env: ConfigEnv = process.env): string {
  if (env.MLENV_CONFIG) return env.MLENV_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "mlenv", "config.json");
}

/** Read the config file; an absent file is an empty config. */
export function readConfig(path: string): MlenvConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new MlenvError(
      SdkErrorCodes.io,
      `Expected a readable config file at ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new MlenvError(
      SdkErrorCodes.config,
      `Expected JSON such as {"url":"http://127.0.0.1:8080","token":"..."} in ${path}; received ${preview(text)}`,
      { cause },
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new MlenvError(
      SdkErrorCodes.config,
      `Expected a JSON object such as {"url":"http://127.0.0.1:8080"} in ${path}; received ${preview(value)}`,
    );
  }
  const v = value as Record<string, unknown>;
  const out: MlenvConfig = {};
  if (typeof v.url === "string") out.url = v.url;
  if (typeof v.token === "string") out.token = v.token;
  return out;
}

/** Write the config file with mode 0600 (directory 0700), atomically. */
export function writeConfig(path: string, config: MlenvConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** Options of {@link workspaceFromConfig}. */
export interface WorkspaceFromConfigOptions {
  /** Explicit URL; wins over MLENV_URL and the config file. */
  url?: string | undefined;
  /** Explicit token; wins over MLENV_TOKEN and the config file. */
  token?: string | undefined;
  env?: ConfigEnv;
  /** Config file path (default {@link configPath}). */
  configFile?: string;
  fetch?: typeof fetch;
}

/**
 * A workspace from explicit options, then `MLENV_URL`/`MLENV_TOKEN`, then the config file.
 * The config file's token is only used for the config file's own URL, so a token never
 * travels to a server it was not issued for.
 */
export function workspaceFromConfig(options: WorkspaceFromConfigOptions = {}): Workspace {
  const env = options.env ?? process.env;
  const file = options.configFile ?? configPath(env);
  const config = readConfig(file);
  const url = options.url || env.MLENV_URL || config.url;
  if (!url) {
    throw new MlenvError(
      SdkErrorCodes.config,
      `Expected a server URL: run "mlenv login --url http://127.0.0.1:8080" or set MLENV_URL; none found (config file ${file}).`,
    );
  }
  const sameServer = config.url !== undefined && stripSlash(config.url) === stripSlash(url);
  const token = options.token || env.MLENV_TOKEN || (sameServer ? config.token : undefined);
  const wsOptions: ConstructorParameters<typeof Workspace>[0] = { url, token };
  if (options.fetch) wsOptions.fetch = options.fetch;
  return new Workspace(wsOptions);
}

function stripSlash(u: string): string {
  return u.trim().replace(/\/+$/, "");
}
