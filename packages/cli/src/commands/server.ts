import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { type CliContext, CliError } from "../context";

function parsePort(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > 65535)
    throw new InvalidArgumentError(`expected a port 0-65535, e.g. 8080; received ${v}`);
  return n;
}

interface StartOptions {
  port: number;
  host: string;
  dataDir?: string;
  database?: string;
  blobDir?: string;
}

/** `mlenv server start`. */
export function register(program: Command, ctx: CliContext): void {
  const server = program.command("server").description("Run the mlenv registry server.");
  server
    .command("start")
    .description("Start the server in the foreground; stops gracefully on SIGINT/SIGTERM.")
    .option("--port <port>", "listen port (0 = random)", parsePort, 8080)
    .option("--host <host>", "listen address", "127.0.0.1")
    .option(
      "--data-dir <dir>",
      "SQLite database, admin token and blobs (default: $MLENV_DATA_DIR or ./.mlenv-data)",
    )
    .option(
      "--database <url>",
      "postgres://... to use PostgreSQL (default: $MLENV_DATABASE_URL, else SQLite)",
    )
    .option("--blob-dir <dir>", "blob store directory (default: <data-dir>/blobs)")
    .action(async (opts: StartOptions) => {
      const dataDir = ctx.path(opts.dataDir ?? ctx.io.env.MLENV_DATA_DIR ?? ".mlenv-data");
      const database = opts.database ?? ctx.io.env.MLENV_DATABASE_URL;
      if (database !== undefined && !/^postgres(ql)?:\/\//.test(database)) {
        throw new CliError(
          "E_USAGE",
          `Expected --database to be a postgres:// URL such as postgres://user@127.0.0.1:5432/mlenv; received ${database.slice(0, 200)}`,
        );
      }
      // Loaded on demand: the server's storage drivers are not needed by any other command.
      const { jsonLogger, startServer } = await import("@mlenv/server");
      const started = await startServer({
        host: opts.host,
        port: opts.port,
        dataDir,
        ...(database ? { database } : {}),
        ...(opts.blobDir ? { blobDir: ctx.path(opts.blobDir) } : {}),
        ...(ctx.io.env.MLENV_BOOTSTRAP_TOKEN ? { bootstrapToken: ctx.io.env.MLENV_BOOTSTRAP_TOKEN } : {}),
        logger: jsonLogger({ write: ctx.io.stderr }),
      });
      ctx.out(`mlenv server listening on ${started.url}`);
      ctx.out(`storage: ${database ? "postgres" : `sqlite in ${dataDir}`}`);
      const tokenFile = join(dataDir, "admin-token");
      if (existsSync(tokenFile)) ctx.out(`admin token: ${tokenFile}`);
      else if (ctx.io.env.MLENV_BOOTSTRAP_TOKEN) ctx.out("admin token: the value of MLENV_BOOTSTRAP_TOKEN");
      else ctx.out("admin token: created on an earlier start (see that start's log)");
      ctx.out(`log in with: mlenv login --url ${started.url} --token-stdin < ${tokenFile}`);
      const signal = ctx.io.untilStopped ? await ctx.io.untilStopped() : "end";
      ctx.out(`stopping (${signal})...`);
      await started.close();
      ctx.out("stopped");
    });
}
