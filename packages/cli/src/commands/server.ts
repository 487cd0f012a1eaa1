import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { type CliContext, CliError } from "../context";
import { loadServer, type ServerPackage } from "../serverPackage";

/** Flags both `server start` and `server worker` take, by setting name (see docs/server.md). */
interface SettingFlags {
  config?: string;
  port?: string;
  host?: string;
  dataDir?: string;
  database?: string;
  blobDir?: string;
  logLevel?: string;
  baseImageCpu?: string;
  baseImageGpu?: string;
  condaExecutable?: string;
  registry?: string;
  dockerHost?: string;
  buildConcurrency?: string;
  buildTimeout?: string;
  secretsKeyFile?: string;
  localTarget?: string;
  serverUrl?: string;
  json?: boolean;
}

/** Read the settings once: flags > environment > config file > defaults. */
function readSettings(
  server: ServerPackage,
  ctx: CliContext,
  opts: SettingFlags,
  defaults: { port: number },
): ReturnType<ServerPackage["loadServerSettings"]> {
  try {
    return server.loadServerSettings({
      env: ctx.io.env,
      cwd: ctx.io.cwd,
      configFile: opts.config,
      defaults,
      flags: {
        port: opts.port,
        host: opts.host,
        dataDir: opts.dataDir,
        databaseUrl: opts.database,
        blobDir: opts.blobDir,
        logLevel: opts.logLevel,
        baseImageCpu: opts.baseImageCpu,
        baseImageGpu: opts.baseImageGpu,
        condaExecutable: opts.condaExecutable,
        registry: opts.registry,
        dockerHost: opts.dockerHost,
        buildConcurrency: opts.buildConcurrency,
        buildTimeoutSeconds: opts.buildTimeout,
        secretsKeyFile: opts.secretsKeyFile,
        localTarget: opts.localTarget,
        serverUrl: opts.serverUrl,
      },
      warn: (message) => ctx.io.stderr(`warning: ${message}\n`),
    });
  } catch (e) {
    if ((e as { code?: unknown }).code === "E_SETTINGS_INVALID") {
      throw new CliError("E_USAGE", (e as Error).message);
    }
    throw e;
  }
}

/** The settings flags shared by `start` and `worker`. */
function settingOptions(cmd: Command, defaultPort: string): Command {
  return cmd
    .option("--config <file>", "settings file, YAML or JSON (default: $MLENV_SERVER_CONFIG)")
    .option("--port <port>", `listen port, 0 = random (default: $MLENV_PORT or ${defaultPort})`)
    .option("--host <host>", "listen address (default: $MLENV_HOST or 127.0.0.1)")
    .option(
      "--data-dir <dir>",
      "SQLite database, admin token, keys and blobs (default: $MLENV_DATA_DIR or ./.mlenv-data)",
    )
    .option(
      "--database <url>",
      "postgres://... to use PostgreSQL (default: $MLENV_DATABASE_URL, else SQLite)",
    )
    .option("--log-level <level>", "error, warn, info or debug (default: $MLENV_LOG_LEVEL or info)")
    .option("--base-image-cpu <image>", "default CPU base image (default: $MLENV_BASE_IMAGE_CPU)")
    .option("--base-image-gpu <image>", "default GPU base image (default: $MLENV_BASE_IMAGE_GPU)")
    .option(
      "--conda-executable <name>",
      "conda executable of base images that create the environment (e.g. micromamba), none for venv + pip (default: $MLENV_CONDA_EXECUTABLE, else mlenv installs the conda prefix itself)",
    )
    .option("--registry <host:port>", "container registry images are pushed to (default: $MLENV_REGISTRY)")
    .option(
      "--docker-host <address>",
      "Docker engine, unix:///path or tcp://host:port (default: $DOCKER_HOST)",
    )
    .option("--build-concurrency <n>", "image builds at once (default: $MLENV_BUILD_CONCURRENCY or 2)")
    .option(
      "--build-timeout <seconds>",
      "image build time limit (default: $MLENV_BUILD_TIMEOUT_SECONDS or 1800)",
    )
    .option(
      "--secrets-key-file <file>",
      "key workspace secrets are encrypted with (default: $MLENV_SECRETS_KEY_FILE or <data-dir>/secrets.key)",
    );
}

type Settings = ReturnType<ServerPackage["loadServerSettings"]>;

/** How {@link runInForeground} starts one part of the server and says that it is up. */
interface Foreground<T extends { close: () => Promise<void> }> {
  /** The port when no flag, environment variable or config file sets one. */
  port: number;
  /** Start it with the settings and a JSON logger on stderr at their log level. */
  start: (
    server: ServerPackage,
    settings: Settings,
    logger: ReturnType<ServerPackage["jsonLogger"]>,
  ) => Promise<T>;
  /** Say that it is up (one JSON line with `--json`). */
  started: (running: T, settings: Settings) => void;
}

/**
 * Load the server package, read the settings, start and announce, then wait for SIGINT/SIGTERM
 * and close, saying so (`stopping`, `stopped`).
 */
async function runInForeground<T extends { close: () => Promise<void> }>(
  ctx: CliContext,
  opts: SettingFlags,
  fg: Foreground<T>,
): Promise<void> {
  const server = await loadServer();
  const settings = readSettings(server, ctx, opts, { port: fg.port });
  const running = await fg.start(
    server,
    settings,
    server.jsonLogger({ write: ctx.io.stderr, level: settings.logLevel }),
  );
  fg.started(running, settings);
  const signal = ctx.io.untilStopped ? await ctx.io.untilStopped() : "end";
  if (opts.json) ctx.jsonLine({ event: "stopping", signal });
  else ctx.out(`stopping (${signal})...`);
  await running.close();
  if (opts.json) ctx.jsonLine({ event: "stopped" });
  else ctx.out("stopped");
}

/** `mlenv server start`, `mlenv server worker`. */
export function register(program: Command, ctx: CliContext): void {
  const server = program.command("server").description("Run the mlenv registry server or a build worker.");
  settingOptions(
    server
      .command("start")
      .description("Start the server in the foreground; stops gracefully on SIGINT/SIGTERM."),
    "8080",
  )
    .option("--blob-dir <dir>", "blob store directory (default: $MLENV_BLOB_DIR or <data-dir>/blobs)")
    .option(
      "--local-target <policy>",
      "confined, unconfined or off (default: $MLENV_LOCAL_TARGET or confined)",
    )
    .option("--json", "print JSON lines: {event: listening|stopping|stopped, ...} (the log stays on stderr)")
    .action((opts: SettingFlags) =>
      runInForeground(ctx, opts, {
        port: 8080,
        start: (mod, settings, logger) =>
          mod.startServer({ ...mod.serverOptionsFromSettings(settings), logger }),
        started: (started, { dataDir, databaseUrl: database, bootstrapToken }) => {
          const storage = database ? "postgres" : `sqlite in ${dataDir}`;
          const tokenFile = join(dataDir, "admin-token");
          const adminToken = existsSync(tokenFile)
            ? tokenFile
            : bootstrapToken
              ? "the value of MLENV_BOOTSTRAP_TOKEN"
              : "created on an earlier start (see that start's log)";
          if (opts.json) {
            ctx.jsonLine({
              event: "listening",
              url: started.url,
              storage: database ? "postgres" : "sqlite",
              dataDir,
              adminTokenFile: existsSync(tokenFile) ? tokenFile : null,
            });
          } else {
            ctx.out(`mlenv server listening on ${started.url}`);
            ctx.out(`storage: ${storage}`);
            ctx.out(`admin token: ${adminToken}`);
            ctx.out(`log in with: mlenv login --url ${started.url} --token-stdin < ${tokenFile}`);
          }
        },
      }),
    );

  settingOptions(
    server
      .command("worker")
      .description(
        "Run a standalone build worker on the server's database, with the server's settings (base images, registry, secrets); stops on SIGINT/SIGTERM.",
      ),
    "0",
  )
    .option(
      "--server-url <url>",
      "the server's URL, signed private-wheel URLs point at it (default: $MLENV_SERVER_URL)",
    )
    .option("--json", "print JSON lines: {event: ready|stopping|stopped, ...} (the log stays on stderr)")
    .action((opts: SettingFlags) =>
      runInForeground(ctx, opts, {
        port: 0,
        start: (mod, settings, logger) =>
          mod.startBuildWorker({ ...mod.buildWorkerOptionsFromSettings(settings), logger }),
        started: (worker, settings) => {
          const storage = settings.databaseUrl ? "postgres" : `sqlite in ${settings.dataDir}`;
          if (opts.json) ctx.jsonLine({ event: "ready", url: worker.url, storage });
          else {
            ctx.out(`mlenv build worker ready (storage: ${storage})`);
            ctx.out(`build secrets served at ${worker.url}`);
          }
        },
      }),
    );
}
