/**
 * A standalone build worker process: runs a BuildQueue over the server's database until SIGTERM
 * or SIGINT (then running builds are failed as interrupted). Several workers (and servers) may
 * share one database: jobs are claimed atomically, and a worker that dies is detected by its
 * stale heartbeat.
 *
 *   node --import tsx --conditions=@mlenv/source packages/server/src/builds/workerMain.ts \
 *     (--sqlite FILE | --postgres URL) [--registry HOST:PORT] [--concurrency N] [--timeout-ms MS]
 *     [--venv]   (base images without conda: core renders a venv + pip environment)
 *
 * The database must be migrated (the server does it on start). Prints one JSON line
 * `{"event":"ready","pid":...}` on stdout when it takes jobs. DOCKER_HOST selects the engine.
 */
import { parseArgs } from "node:util";
import { DockerClient } from "../docker/index";
import { coreRenderer, ImageBuilder } from "./builder";
import { BuildQueue } from "./buildQueue";
import { openBuildJobStore } from "./jobStore";

const { values } = parseArgs({
  options: {
    sqlite: { type: "string" },
    postgres: { type: "string" },
    registry: { type: "string" },
    venv: { type: "boolean" },
    concurrency: { type: "string" },
    "timeout-ms": { type: "string" },
    "heartbeat-ms": { type: "string" },
    "stale-ms": { type: "string" },
  },
});

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write(
      `--${name} expects a positive integer like 2; received ${JSON.stringify(v).slice(0, 80)}\n`,
    );
    process.exit(2);
  }
  return n;
}

if (!values.sqlite === !values.postgres) {
  process.stderr.write("expected exactly one of --sqlite FILE or --postgres URL\n");
  process.exit(2);
}
const jobs = openBuildJobStore(
  values.sqlite ? { sqliteFile: values.sqlite } : { postgresUrl: values.postgres as string },
);
const builder = new ImageBuilder({
  docker: new DockerClient(),
  render: coreRenderer(values.venv ? { condaExecutable: null } : {}),
  ...(values.registry ? { registry: { address: values.registry } } : {}),
});
const concurrency = num("concurrency", values.concurrency);
const timeoutMs = num("timeout-ms", values["timeout-ms"]);
const heartbeatMs = num("heartbeat-ms", values["heartbeat-ms"]);
const staleMs = num("stale-ms", values["stale-ms"]);
const queue = new BuildQueue({
  jobs,
  builder,
  exclusive: false,
  ...(concurrency ? { concurrency } : {}),
  ...(timeoutMs ? { timeoutMs } : {}),
  ...(heartbeatMs ? { heartbeatMs } : {}),
  ...(staleMs ? { staleMs } : {}),
});
await queue.start();
process.stdout.write(`${JSON.stringify({ event: "ready", pid: process.pid })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await queue.close();
  await jobs.close();
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
// keep the process alive: the queue's timers are unref'd
setInterval(() => {}, 1 << 30);
