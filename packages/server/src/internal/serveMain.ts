/**
 * A bare process entry for tests and benches that need the server (or a build worker) in its own
 * process; settings come from the environment and `--config FILE`, as `mlenv server start` reads
 * them (see docs/server.md), with port 0 and log level `warn` by default:
 *   MLENV_DATA_DIR=... [MLENV_DATABASE_URL=postgres://...] [MLENV_BLOB_DIR=...] [MLENV_BOOTSTRAP_TOKEN=...] \
 *     node --import tsx --conditions=@mlenv/source packages/server/src/internal/serveMain.ts [worker] [--config FILE]
 * The server prints one line `listening <url>` on stdout, a worker one JSON line
 * `{"event":"ready","pid":...,"url":...}`; both log JSON to stderr and stop on SIGTERM/SIGINT.
 * Operators use `mlenv server start` and `mlenv server worker` instead.
 */
import { parseArgs } from "node:util";
import { startBuildWorker } from "../builds/worker";
import { jsonLogger } from "../logger";
import { startServer } from "../server";
import { buildWorkerOptionsFromSettings, loadServerSettings, serverOptionsFromSettings } from "../settings";

const { values, positionals } = parseArgs({
  options: { config: { type: "string" } },
  allowPositionals: true,
});
const logger = (level: "error" | "warn" | "info" | "debug") => jsonLogger({ level });
let settings: ReturnType<typeof loadServerSettings>;
try {
  settings = loadServerSettings({
    env: process.env,
    configFile: values.config,
    defaults: { port: 0, logLevel: "warn" },
    warn: (message) => process.stderr.write(`${message}\n`),
  });
} catch (e) {
  process.stderr.write(`serveMain: ${(e as Error).message}\n`);
  process.exit(2);
}
let close: () => Promise<void>;
if (positionals[0] === "worker") {
  const worker = await startBuildWorker({
    ...buildWorkerOptionsFromSettings(settings),
    logger: logger(settings.logLevel),
  });
  process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid, url: worker.url })}\n`);
  close = () => worker.close();
} else {
  const server = await startServer({
    ...serverOptionsFromSettings(settings),
    logger: logger(settings.logLevel),
  });
  process.stdout.write(`listening ${server.url}\n`);
  close = () => server.close();
}
const stop = () => {
  void close().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
