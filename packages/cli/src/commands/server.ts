import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";

function isPort(v: string): boolean {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535;
}

function parsePort(v: string): number {
  if (!isPort(v)) throw new InvalidArgumentError(`expected a port 0-65535, e.g. 8080; received ${v}`);
  return Number(v);
}

/** The port from `--port`, else `$MLENV_PORT`, else 8080. */
function resolvePort(flag: number | undefined, env: string | undefined): number {
  if (flag !== undefined) return flag;
  if (env === undefined || env === "") return 8080;
  if (!isPort(env)) {
    throw new CliError(
      "E_USAGE",
      `Expected MLENV_PORT to be a port 0-65535, e.g. 8080; received ${env.slice(0, 200)}`,
    );
  }
  return Number(env);
}

interface StartOptions {
  port?: number;
  host?: string;
  dataDir?: string;
  database?: string;
  blobDir?: string;
  baseImageCpu?: string;
  baseImageGpu?: string;
  registry?: string;
  dockerHost?: string;
  buildConcurrency?: number;
  buildTimeout?: number;
  json?: boolean;
}

function parsePositive(v: string): number {
  if (!/^[1-9]\d{0,6}$/.test(v))
    throw new InvalidArgumentError(`expected a positive whole number such as 2; received ${v}`);
  return Number(v);
}

/** `mlenv server start`. */
export function register(program: Command, ctx: CliContext): void {
  const server = program.command("server").description("Run the mlenv registry server.");
  server
    .command("start")
    .description("Start the server in the foreground; stops gracefully on SIGINT/SIGTERM.")
    .option("--port <port>", "listen port, 0 = random (default: $MLENV_PORT or 8080)", parsePort)
    .option("--host <host>", "listen address (default: $MLENV_HOST or 127.0.0.1)")
    .option(
      "--data-dir <dir>",
      "SQLite database, admin token and blobs (default: $MLENV_DATA_DIR or ./.mlenv-data)",
    )
    .option(
      "--database <url>",
      "postgres://... to use PostgreSQL (default: $MLENV_DATABASE_URL, else SQLite)",
    )
    .option("--blob-dir <dir>", "blob store directory (default: $MLENV_BLOB_DIR or <data-dir>/blobs)")
    .option("--base-image-cpu <image>", "default CPU base image (default: $MLENV_BASE_IMAGE_CPU)")
    .option("--base-image-gpu <image>", "default GPU base image (default: $MLENV_BASE_IMAGE_GPU)")
    .option("--registry <host:port>", "container registry images are pushed to (default: $MLENV_REGISTRY)")
    .option(
      "--docker-host <address>",
      "Docker engine, unix:///path or tcp://host:port (default: $DOCKER_HOST)",
    )
    .option(
      "--build-concurrency <n>",
      "image builds at once (default: $MLENV_BUILD_CONCURRENCY or 2)",
      parsePositive,
    )
    .option(
      "--build-timeout <seconds>",
      "image build time limit (default: $MLENV_BUILD_TIMEOUT_SECONDS or 1800)",
      parsePositive,
    )
    .option("--json", "print JSON lines: {event: listening|stopping|stopped, ...} (the log stays on stderr)")
    .action(async (opts: StartOptions) => {
      const dataDir = ctx.path(opts.dataDir ?? (ctx.io.env.MLENV_DATA_DIR || ".mlenv-data"));
      const env = ctx.io.env;
      const port = resolvePort(opts.port, env.MLENV_PORT);
      const host = opts.host ?? (env.MLENV_HOST || "127.0.0.1");
      const blobDir = opts.blobDir ?? (env.MLENV_BLOB_DIR || undefined);
      const database = opts.database ?? (ctx.io.env.MLENV_DATABASE_URL || undefined);
      if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) {
        throw new CliError(
          "E_USAGE",
          `Expected --database to be a postgres:// URL such as postgres://user@127.0.0.1:5432/mlenv; received ${database.slice(0, 200)}`,
        );
      }
      // Loaded on demand: the server's storage drivers are not needed by any other command.
      const { jsonLogger, startServer } = await import("@mlenv/server");
      const started = await startServer({
        host,
        port,
        dataDir,
        ...(database ? { database } : {}),
        ...(blobDir ? { blobDir: ctx.path(blobDir) } : {}),
        ...(ctx.io.env.MLENV_BOOTSTRAP_TOKEN ? { bootstrapToken: ctx.io.env.MLENV_BOOTSTRAP_TOKEN } : {}),
        logger: jsonLogger({ write: ctx.io.stderr }),
        builds: {
          baseImageCpu: opts.baseImageCpu ?? (ctx.io.env.MLENV_BASE_IMAGE_CPU || undefined),
          baseImageGpu: opts.baseImageGpu ?? (ctx.io.env.MLENV_BASE_IMAGE_GPU || undefined),
          ...(ctx.io.env.MLENV_CONDA_EXECUTABLE
            ? {
                condaExecutable:
                  ctx.io.env.MLENV_CONDA_EXECUTABLE === "none" ? null : ctx.io.env.MLENV_CONDA_EXECUTABLE,
              }
            : {}),
          registry: opts.registry ?? (ctx.io.env.MLENV_REGISTRY || undefined),
          dockerHost: opts.dockerHost ?? (ctx.io.env.DOCKER_HOST || undefined),
          concurrency: opts.buildConcurrency,
          timeoutMs: opts.buildTimeout === undefined ? undefined : opts.buildTimeout * 1000,
        },
      });
      const storage = database ? "postgres" : `sqlite in ${dataDir}`;
      const tokenFile = join(dataDir, "admin-token");
      const adminToken = existsSync(tokenFile)
        ? tokenFile
        : ctx.io.env.MLENV_BOOTSTRAP_TOKEN
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
      const signal = ctx.io.untilStopped ? await ctx.io.untilStopped() : "end";
      if (opts.json) ctx.jsonLine({ event: "stopping", signal });
      else ctx.out(`stopping (${signal})...`);
      await started.close();
      if (opts.json) ctx.jsonLine({ event: "stopped" });
      else ctx.out("stopped");
    });
}
