import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { BuildSupportOptions } from "./builds/buildSupport";
import type { BuildWorkerOptions } from "./builds/worker";
import type { RegistryTarget } from "./docker/index";
import type { ServerOptions } from "./server";

/**
 * The server's settings: one zod schema, read once from flags, environment variables and an
 * optional config file (YAML or JSON), with this precedence: flags > environment > file >
 * defaults. `mlenv server start`, `mlenv server worker` and the bare test entry all read them
 * here; nothing below `startServer` / `startBuildWorker` reads `process.env`.
 */

const positiveInt = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
const millis = z.number().int().min(50).max(Number.MAX_SAFE_INTEGER);
const text = z.string().trim().min(1);
const image = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$/, "an image reference like mlenv/base-cpu:bookworm");

/** One setting: its value schema, environment variable, flag, default and what it is. */
interface Field {
  /** What a valid value looks like, with an example (error messages). */
  expected: string;
  schema: z.ZodType;
  env?: string;
  flag?: string;
  /** The value shown in errors is replaced by `***` (secrets). */
  secret?: boolean;
  /** An environment string turned into the value (before the schema), e.g. `none` → null. */
  fromText?: (raw: string) => unknown;
  doc: string;
  defaultDoc: string;
}

const nullable = (word: string) => (raw: string) => (raw === word ? null : raw);

/** Every setting, in the order docs/server.md lists them. */
export const SERVER_SETTING_FIELDS = {
  dataDir: {
    expected: "a directory path, e.g. /var/lib/mlenv",
    schema: text,
    env: "MLENV_DATA_DIR",
    flag: "--data-dir",
    doc: "data directory (SQLite database, `admin-token`, `signing-key`, `secrets.key`, blobs)",
    defaultDoc: "`./.mlenv-data` (image: `/data`)",
  },
  databaseUrl: {
    expected: "a PostgreSQL URL such as postgres://user@127.0.0.1:5432/mlenv",
    schema: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "a PostgreSQL URL like postgres://user@127.0.0.1:5432/mlenv"),
    env: "MLENV_DATABASE_URL",
    flag: "--database",
    secret: true,
    doc: "database URL",
    defaultDoc: "SQLite at `<data-dir>/mlenv.db`; `postgres://user@host:5432/db` for PostgreSQL",
  },
  blobDir: {
    expected: "a directory path, e.g. /var/lib/mlenv/blobs",
    schema: text,
    env: "MLENV_BLOB_DIR",
    flag: "--blob-dir",
    doc: "blob directory",
    defaultDoc: "`<data-dir>/blobs`",
  },
  host: {
    expected: "a listen address such as 127.0.0.1 or 0.0.0.0",
    schema: text,
    env: "MLENV_HOST",
    flag: "--host",
    doc: "listen address",
    defaultDoc: "`127.0.0.1` (image: `0.0.0.0`)",
  },
  port: {
    expected: "a port 0-65535, e.g. 8080",
    schema: z.number().int().min(0).max(65535),
    env: "MLENV_PORT",
    flag: "--port",
    doc: "listen port (`0` picks a free port)",
    defaultDoc: "8080 (`server worker`: 0)",
  },
  logLevel: {
    expected: "one of error, warn, info, debug (e.g. info)",
    schema: z.enum(["error", "warn", "info", "debug"]),
    env: "MLENV_LOG_LEVEL",
    flag: "--log-level",
    doc: "least severe log level written (`error`, `warn`, `info`, `debug`)",
    defaultDoc: "`info`",
  },
  bootstrapToken: {
    expected: "mlenv_ + 43 base64url characters, e.g. the output of `mlenv token generate`",
    schema: z
      .string()
      .regex(/^mlenv_[A-Za-z0-9_-]{43}$/, "mlenv_ + 43 base64url characters (`mlenv token generate`)"),
    env: "MLENV_BOOTSTRAP_TOKEN",
    secret: true,
    doc: "bootstrap admin token of the `default` workspace (first start only)",
    defaultDoc: "generated, written to `<data-dir>/admin-token` (mode 0600)",
  },
  signingKey: {
    expected: "a secret of at least 32 characters",
    schema: z.string().min(32, "at least 32 characters"),
    env: "MLENV_SIGNING_KEY",
    secret: true,
    doc: "signed-URL secret (wheel downloads); the same on every server and worker sharing a database",
    defaultDoc: "generated once into `<data-dir>/signing-key`",
  },
  secretsKey: {
    expected: "32 bytes in base64, e.g. from `openssl rand -base64 32`",
    schema: text,
    env: "MLENV_SECRETS_KEY",
    secret: true,
    doc: "key workspace secrets are encrypted with (32 bytes, base64); the same on every server and worker sharing a database",
    defaultDoc: "read from `--secrets-key-file`",
  },
  secretsKeyFile: {
    expected: "a file path, e.g. /var/lib/mlenv/secrets.key",
    schema: text,
    env: "MLENV_SECRETS_KEY_FILE",
    flag: "--secrets-key-file",
    doc: "file holding the secrets key (created, mode 0600, when missing)",
    defaultDoc: "`<data-dir>/secrets.key`",
  },
  dockerHost: {
    expected: "a Docker engine address such as unix:///var/run/docker.sock or tcp://127.0.0.1:2375",
    schema: text,
    env: "DOCKER_HOST",
    flag: "--docker-host",
    doc: "Docker engine for builds and docker runs",
    defaultDoc: "`unix:///var/run/docker.sock`",
  },
  baseImageCpu: {
    expected: "an image reference like mlenv/base-cpu:bookworm",
    schema: image,
    env: "MLENV_BASE_IMAGE_CPU",
    flag: "--base-image-cpu",
    doc: "CPU base image",
    defaultDoc:
      "`debian:bookworm-slim` (with a conda executable: core's micromamba image; offline: the local `mlenv/base-cpu:bookworm`)",
  },
  baseImageGpu: {
    expected: "an image reference like mlenv/base-gpu:cuda12",
    schema: image,
    env: "MLENV_BASE_IMAGE_GPU",
    flag: "--base-image-gpu",
    doc: "GPU base image",
    defaultDoc: "`nvidia/cuda:12.1.1-base-ubuntu22.04` (with a conda executable: core's micromamba image)",
  },
  condaExecutable: {
    expected: "an executable name such as micromamba, or none",
    schema: text.nullable(),
    env: "MLENV_CONDA_EXECUTABLE",
    flag: "--conda-executable",
    fromText: nullable("none"),
    doc: "conda executable in base images that create the environment in the build (`micromamba`, opt-in); `none`: a venv from the base image's python3 (pip only)",
    defaultDoc: "unset: mlenv installs the locked conda prefix and copies it into a plain base image",
  },
  registry: {
    expected: "a registry address like 127.0.0.1:5000",
    schema: z.string().regex(/^[A-Za-z0-9.[\]:-]+(:\d{1,5})?$/, "a registry address like 127.0.0.1:5000"),
    env: "MLENV_REGISTRY",
    flag: "--registry",
    doc: "registry built images are pushed to, `host[:port]`",
    defaultDoc: "none (images stay on the engine)",
  },
  registryUsername: {
    expected: "a user name",
    schema: text,
    env: "MLENV_REGISTRY_USERNAME",
    doc: "user name for pushing to `registry`",
    defaultDoc: "none (anonymous)",
  },
  registryPassword: {
    expected: "a password",
    schema: text,
    env: "MLENV_REGISTRY_PASSWORD",
    secret: true,
    doc: "password for pushing to `registry`",
    defaultDoc: "none",
  },
  buildConcurrency: {
    expected: "a positive whole number, e.g. 2",
    schema: positiveInt,
    env: "MLENV_BUILD_CONCURRENCY",
    flag: "--build-concurrency",
    doc: "image builds at once per process",
    defaultDoc: "2",
  },
  buildTimeoutSeconds: {
    expected: "a positive whole number of seconds, e.g. 1800",
    schema: positiveInt,
    env: "MLENV_BUILD_TIMEOUT_SECONDS",
    flag: "--build-timeout",
    doc: "image build time limit (seconds)",
    defaultDoc: "1800",
  },
  buildHeartbeatMs: {
    expected: "a whole number of milliseconds of at least 50, e.g. 5000",
    schema: millis,
    env: "MLENV_BUILD_HEARTBEAT_MS",
    doc: "how often a process renews its hold on the builds it runs (ms)",
    defaultDoc: "5000",
  },
  buildStaleMs: {
    expected: "a whole number of milliseconds of at least 50, e.g. 30000",
    schema: millis,
    env: "MLENV_BUILD_STALE_MS",
    doc: "a running build whose holder missed renewals this long is failed as interrupted (ms)",
    defaultDoc: "30000",
  },
  serverUrl: {
    expected: "an http(s) URL such as http://mlenv.internal:8080",
    schema: z.url({ protocol: /^https?$/ }),
    env: "MLENV_SERVER_URL",
    flag: "--server-url",
    doc: "`server worker` only: the server's URL, signed private-wheel URLs in builds point at it",
    defaultDoc: "none (builds using private wheels fail on the worker)",
  },
  localTarget: {
    expected: "one of confined, unconfined, off (e.g. confined)",
    schema: z.enum(["confined", "unconfined", "off"]),
    env: "MLENV_LOCAL_TARGET",
    flag: "--local-target",
    doc: "local run target: `confined`, `unconfined` (an admin accepts unconfined user code), `off` (see security.md)",
    defaultDoc: "`confined`",
  },
  bwrap: {
    expected: "a bubblewrap executable path, or off",
    schema: text.nullable(),
    env: "MLENV_BWRAP",
    fromText: nullable("off"),
    doc: "bubblewrap for a non-root server's confinement; `off` never uses it",
    defaultDoc: "`bwrap` on PATH",
  },
  python: {
    expected: "a Python executable such as python3",
    schema: text,
    env: "MLENV_PYTHON",
    doc: "Python for local runs and services",
    defaultDoc: "`python3`",
  },
  maxWheelBytes: {
    expected: "a positive whole number of bytes, e.g. 524288000",
    schema: positiveInt,
    env: "MLENV_MAX_WHEEL_BYTES",
    doc: "largest wheel upload (bytes)",
    defaultDoc: "500 MiB",
  },
  maxSnapshotBytes: {
    expected: "a positive whole number of bytes, e.g. 26214400",
    schema: positiveInt,
    env: "MLENV_MAX_SNAPSHOT_BYTES",
    doc: "largest run source snapshot (bytes)",
    defaultDoc: "25 MiB",
  },
  serviceHeartbeatMs: {
    expected: "a whole number of milliseconds of at least 50, e.g. 5000",
    schema: millis,
    env: "MLENV_SERVICE_HEARTBEAT_MS",
    doc: "how often a server renews its hold on the web services it runs (ms); another server on the same database takes a service over after three missed renewals",
    defaultDoc: "5000",
  },
  clusterPollMs: {
    expected: "a whole number of milliseconds of at least 50, e.g. 2000",
    schema: millis,
    env: "MLENV_CLUSTER_POLL_MS",
    doc: "how often runs on compute targets (Slurm) are polled (ms)",
    defaultDoc: "2000",
  },
} as const satisfies Record<string, Field>;

export type ServerSettingName = keyof typeof SERVER_SETTING_FIELDS;

/** The settings schema (every field optional: defaults are applied by {@link loadServerSettings}). */
export const ServerSettingsSchema = z
  .object(
    Object.fromEntries(Object.entries(SERVER_SETTING_FIELDS).map(([k, f]) => [k, f.schema.optional()])) as {
      [K in ServerSettingName]: z.ZodOptional<(typeof SERVER_SETTING_FIELDS)[K]["schema"]>;
    },
  )
  .strict();

type Given = z.infer<typeof ServerSettingsSchema>;

/** The settings with defaults applied; optional ones stay undefined when not set. */
export type ServerSettings = Given & {
  dataDir: string;
  host: string;
  port: number;
  logLevel: "error" | "warn" | "info" | "debug";
  localTarget: "confined" | "unconfined" | "off";
  /** The config file read, absolute; null when none. */
  configFile: string | null;
};

/** A setting that is not what the schema expects; names where it came from. */
export class ServerSettingsError extends Error {
  readonly code = "E_SETTINGS_INVALID";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ServerSettingsError";
  }
}

export interface LoadServerSettingsOptions {
  /** Values of command-line flags by setting name (undefined: not given). */
  flags?: Partial<Record<ServerSettingName, unknown>>;
  /** The environment (`process.env` of the caller). */
  env?: Record<string, string | undefined>;
  /** A YAML or JSON config file (`--config`); else env `MLENV_SERVER_CONFIG`; else none. */
  configFile?: string | undefined;
  /** Relative paths (config file, data and blob dirs) are resolved against it (default `process.cwd()`). */
  cwd?: string;
  /** Defaults that differ for this entry point (e.g. `port: 0` for the worker). */
  defaults?: Partial<Pick<ServerSettings, "port" | "host" | "dataDir" | "logLevel">>;
  /** Deprecation notices (e.g. an old variable name), for the caller to log. */
  warn?: (message: string) => void;
}

function shown(field: Field, value: unknown): string {
  if (field.secret && typeof value === "string" && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    // a URL: its scheme and host help, its credentials are hidden
    return value.replace(/\/\/[^@/]*@/, "//***@").slice(0, 200);
  }
  if (field.secret) return "a value of another shape (not shown: it is a secret)";
  const t = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return t.slice(0, 200);
}

function check(name: ServerSettingName, value: unknown, where: string): unknown {
  const field: Field = SERVER_SETTING_FIELDS[name];
  const r = field.schema.safeParse(value);
  if (r.success) return r.data;
  throw new ServerSettingsError(
    `Expected ${where} to be ${field.expected}; received ${shown(field, value)}`,
    {
      cause: r.error,
    },
  );
}

/** A string from the environment or a flag turned into the field's type (numbers parsed). */
function fromString(name: ServerSettingName, raw: string): unknown {
  const field: Field = SERVER_SETTING_FIELDS[name];
  if (field.fromText) return field.fromText(raw);
  const inner = field.schema;
  if (inner instanceof z.ZodNumber) return /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
  return raw;
}

function readFile(file: string): Record<string, { value: unknown; where: string }> {
  let textContent: string;
  try {
    textContent = readFileSync(file, "utf8");
  } catch (e) {
    throw new ServerSettingsError(
      `Expected the config file ${file} to be readable; received ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      { cause: e },
    );
  }
  let data: unknown;
  try {
    data = file.endsWith(".json") ? JSON.parse(textContent) : parseYaml(textContent, { intAsBigInt: false });
  } catch (e) {
    throw new ServerSettingsError(
      `Expected the config file ${file} to be YAML or JSON, e.g. "port: 8080"; ${String((e as Error).message).slice(0, 200)}`,
      { cause: e },
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== "object" || Array.isArray(data)) {
    throw new ServerSettingsError(
      `Expected the config file ${file} to hold a mapping of settings, e.g. "port: 8080"; received ${JSON.stringify(data).slice(0, 200)}`,
    );
  }
  const out: Record<string, { value: unknown; where: string }> = {};
  for (const [key, value] of Object.entries(data)) {
    if (key === "$schema") continue;
    if (!(key in SERVER_SETTING_FIELDS)) {
      throw new ServerSettingsError(
        `Expected the fields of config file ${file} to be settings such as dataDir, port, baseImageCpu; received unknown field ${JSON.stringify(key).slice(0, 100)}`,
      );
    }
    const field: Field = SERVER_SETTING_FIELDS[key as ServerSettingName];
    // the words an env var takes (`none`, `off`) mean the same in a file
    const v = typeof value === "string" && field.fromText ? field.fromText(value) : value;
    out[key] = { value: v, where: `field ${key} of config file ${file}` };
  }
  return out;
}

/**
 * Read the server's settings once: flags > environment > config file > defaults. Throws a
 * {@link ServerSettingsError} naming the flag, variable, or file and field of a bad value.
 */
export function loadServerSettings(options: LoadServerSettingsOptions = {}): ServerSettings {
  const env = options.env ?? {};
  const cwd = options.cwd ?? process.cwd();
  const configName = options.configFile ?? (env.MLENV_SERVER_CONFIG || undefined);
  const configFile = configName ? resolve(cwd, configName) : null;
  const fromFile = configFile ? readFile(configFile) : {};

  type Candidate = { value: unknown; where: string };
  const fromEnv: Record<string, Candidate> = {};
  for (const [key, field] of Object.entries(SERVER_SETTING_FIELDS) as [ServerSettingName, Field][]) {
    let raw = field.env ? env[field.env] : undefined;
    let where = field.env ?? key;
    if (key === "databaseUrl" && !raw && env.MLENV_DATABASE) {
      raw = env.MLENV_DATABASE;
      where = "MLENV_DATABASE";
      options.warn?.("MLENV_DATABASE is deprecated: name the database with MLENV_DATABASE_URL");
    }
    // an empty variable means "not set", as before
    if (raw === undefined || raw === "") continue;
    fromEnv[key] = { value: fromString(key, raw), where };
  }

  const fromFlags: Record<string, Candidate> = {};
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    if (!(key in SERVER_SETTING_FIELDS)) throw new ServerSettingsError(`unknown setting ${key}`);
    const name = key as ServerSettingName;
    const field: Field = SERVER_SETTING_FIELDS[name];
    fromFlags[name] = {
      value: typeof value === "string" ? fromString(name, value) : value,
      where: field.flag ?? name,
    };
  }

  // only the winning value of each setting is read (an overridden one may be anything)
  const merged: Record<string, unknown> = {};
  for (const [key, c] of Object.entries({ ...fromFile, ...fromEnv, ...fromFlags })) {
    merged[key] = check(key as ServerSettingName, c.value, c.where);
  }
  const given = merged as Given;
  const d = options.defaults ?? {};
  const dataDir = resolve(cwd, given.dataDir ?? d.dataDir ?? ".mlenv-data");
  return {
    ...given,
    dataDir,
    ...(given.blobDir ? { blobDir: resolve(cwd, given.blobDir) } : {}),
    ...(given.secretsKeyFile ? { secretsKeyFile: resolve(cwd, given.secretsKeyFile) } : {}),
    host: given.host ?? d.host ?? "127.0.0.1",
    port: given.port ?? d.port ?? 8080,
    logLevel: given.logLevel ?? d.logLevel ?? "info",
    localTarget: given.localTarget ?? "confined",
    configFile,
  };
}

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

function buildOptions(s: ServerSettings): BuildSupportOptions {
  const registry: RegistryTarget | undefined = s.registry
    ? {
        address: s.registry,
        ...(s.registryUsername !== undefined || s.registryPassword !== undefined
          ? { auth: { username: s.registryUsername ?? "", password: s.registryPassword ?? "" } }
          : {}),
      }
    : undefined;
  return defined({
    baseImageCpu: s.baseImageCpu,
    baseImageGpu: s.baseImageGpu,
    condaExecutable: s.condaExecutable,
    registry,
    dockerHost: s.dockerHost,
    concurrency: s.buildConcurrency,
    timeoutMs: s.buildTimeoutSeconds === undefined ? undefined : s.buildTimeoutSeconds * 1000,
    heartbeatMs: s.buildHeartbeatMs,
    staleMs: s.buildStaleMs,
  });
}

function wheelOptions(s: ServerSettings): NonNullable<ServerOptions["wheels"]> {
  return defined({
    signingKey: s.signingKey,
    secretsKey: s.secretsKey,
    secretsKeyFile: s.secretsKeyFile,
    maxWheelBytes: s.maxWheelBytes,
  });
}

/** The `startServer` options of a server's settings (add a logger, e.g. `jsonLogger({ level: settings.logLevel })`). */
export function serverOptionsFromSettings(s: ServerSettings): ServerOptions {
  return {
    dataDir: s.dataDir,
    host: s.host,
    port: s.port,
    ...defined({ database: s.databaseUrl, blobDir: s.blobDir, bootstrapToken: s.bootstrapToken }),
    localTarget: s.localTarget,
    builds: buildOptions(s),
    wheels: wheelOptions(s),
    runs: defined({
      python: s.python,
      bwrap: s.bwrap,
      maxSnapshotBytes: s.maxSnapshotBytes,
      serviceHeartbeatMs: s.serviceHeartbeatMs,
      clusterPollMs: s.clusterPollMs,
    }),
  };
}

/** The `startBuildWorker` options of the same settings: the server's build parity. */
export function buildWorkerOptionsFromSettings(s: ServerSettings): BuildWorkerOptions {
  return {
    dataDir: s.dataDir,
    host: s.host,
    port: s.port,
    ...defined({ database: s.databaseUrl, serverUrl: s.serverUrl }),
    builds: buildOptions(s),
    wheels: wheelOptions(s),
  };
}
