/**
 * A bare process entry for tests and benches that need the server in its own process:
 *   MLENV_DATA_DIR=... [MLENV_DATABASE_URL=postgres://...] [MLENV_BLOB_DIR=...] [MLENV_BOOTSTRAP_TOKEN=...] \
 *     node --import tsx --conditions=@mlenv/source packages/server/src/internal/serveMain.ts
 * Prints one line `listening <url>` on stdout, logs JSON to stderr, stops on SIGTERM/SIGINT.
 * Operators use `mlenv server start` instead.
 */
import { jsonLogger } from "../logger";
import { startServer } from "../server";

const dataDir = process.env.MLENV_DATA_DIR;
if (!dataDir) {
  process.stderr.write("serveMain: expected MLENV_DATA_DIR to name the data directory; received nothing\n");
  process.exit(2);
}
const database = process.env.MLENV_DATABASE_URL || undefined;
const blobDir = process.env.MLENV_BLOB_DIR || undefined;
const server = await startServer({
  dataDir,
  ...(database ? { database } : {}),
  ...(blobDir ? { blobDir } : {}),
  port: Number(process.env.MLENV_PORT ?? 0),
  logger: jsonLogger({ level: process.env.MLENV_LOG_LEVEL === "debug" ? "debug" : "warn" }),
});
process.stdout.write(`listening ${server.url}\n`);
const stop = () => {
  void server.close().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
