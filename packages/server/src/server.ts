import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createApp } from "./app";
import { FsBlobStore } from "./blobs/blobStore";
import { sweepBlobs } from "./blobs/sweep";
import type { BuildSupportOptions } from "./builds/buildSupport";
import { jsonLogger, type Logger } from "./logger";
import type { LocalTargetPolicy } from "./runs/confinement";
import { openRunSupport, type RunSupport, type RunSupportOptions } from "./runs/support";
import type { Store } from "./store/types";
import type { WheelSupportOptions } from "./wheels/support";
import { buildWiring, listen } from "./wiring";

export { openStore } from "./wiring";

export interface ServerOptions {
  /** Listen address (default 127.0.0.1). */
  host?: string;
  /** Listen port; 0 picks a free one (default 0). */
  port?: number;
  /** Holds the SQLite database, `admin-token` and, by default, blobs. Created if missing. */
  dataDir: string;
  /** `postgres://...` to use PostgreSQL; otherwise SQLite at `<dataDir>/mlenv.db`. */
  database?: string;
  /** Blob store root (default `<dataDir>/blobs`). */
  blobDir?: string;
  /** Admin token of the default workspace on first start (default: generated). */
  bootstrapToken?: string;
  logger?: Logger;
  /** PostgreSQL pool size (default 10). */
  maxConnections?: number;
  /** Image builds: base images, registry, Docker engine, concurrency, timeout. */
  builds?: BuildSupportOptions;
  /** Private wheels and secrets: signing key, secrets key, upload limit. */
  wheels?: Omit<WheelSupportOptions, "dataDir" | "database">;
  /** Runs and services: Python, bubblewrap, snapshot limit, heartbeats, compute polling. */
  runs?: Pick<
    RunSupportOptions,
    "python" | "bwrap" | "maxSnapshotBytes" | "serviceHeartbeatMs" | "clusterPollMs"
  >;
  /**
   * The local run target (default `confined`): `confined` runs user
   * code confined and refuses the target on a server with several workspaces when it cannot;
   * `unconfined` lets an admin accept unconfined user code; `off` refuses it. See docs/security.md.
   */
  localTarget?: LocalTargetPolicy;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  store: Store["kind"];
  close(): Promise<void>;
}

/**
 * Start the registry: open (and migrate) the store, bootstrap the default workspace on first
 * start, seed curated environments, and listen.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? jsonLogger();
  const { store, wheels, builds } = await buildWiring({ ...options, logger });
  let runs: RunSupport | undefined;
  try {
    const blobs = new FsBlobStore(options.blobDir ?? join(options.dataDir, "blobs"));
    // what a crashed process left half-written in the blob store
    const swept = await sweepBlobs(blobs, { definitionInUse: (d) => store.definitionBlobInUse(d) });
    if (swept.temps + swept.uploads + swept.definitions > 0)
      logger.info("swept abandoned blob files", { ...swept });
    const sealed = await wheels.sealPlaintextSecrets?.();
    if (sealed) logger.info("encrypted secrets stored in plain text by an older server", { count: sealed });
    // the docker run target uses the same builder (and engine) as image builds
    runs = openRunSupport({
      ...options.runs,
      dataDir: options.dataDir,
      database: options.database,
      db: store.db,
      store,
      blobs,
      logger,
      wheels,
      config: builds.config,
      docker: { builder: builds.builder, client: builds.docker },
      blobDir: options.blobDir,
      localTarget: options.localTarget,
    });
    const { app, registry } = createApp({
      store,
      blobs,
      logger,
      wheels,
      runs,
      builds,
      config: builds.config,
    });
    const given = options.bootstrapToken;
    if (given !== undefined && !/^mlenv_[A-Za-z0-9_-]{43}$/.test(given)) {
      throw new Error(
        "Expected the bootstrap token (MLENV_BOOTSTRAP_TOKEN) to look like mlenv_ + 43 base64url characters, e.g. the output of `mlenv token generate`; received a value of another shape",
      );
    }
    const boot = await registry.bootstrap(given);
    if (boot) {
      const file = join(options.dataDir, "admin-token");
      writeFileSync(file, `${boot.token}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      if (boot.generated) {
        // Printed once, on the very first start, so the operator can log in.
        logger.info("bootstrap admin token created", { event: "bootstrap-token", token: boot.token, file });
      } else {
        logger.info("bootstrap admin token set from configuration", { event: "bootstrap-token", file });
      }
    }
    await registry.seedCurated();
    const { server, port, url } = await listen(app.fetch, options.host ?? "127.0.0.1", options.port ?? 0);
    runs.setBaseUrl(url);
    await runs.start();
    builds.setBaseUrl(url);
    // jobs an earlier process left running are failed as interrupted; queued ones run now
    await builds.start();
    // Token revocations made by other server processes on the same database reach this one.
    const stopWatching = await registry.watchRevocations();
    logger.info("server listening", { url, store: store.kind });
    let closed = false;
    return {
      url,
      port,
      store: store.kind,
      async close() {
        if (closed) return;
        closed = true;
        await runs?.close();
        await builds.close();
        await new Promise<void>((resolve) => {
          // Stop accepting; idle keep-alive sockets close now, requests in flight get up to 10 s.
          const s = server as unknown as {
            closeIdleConnections?: () => void;
            closeAllConnections?: () => void;
          };
          const force = setTimeout(() => s.closeAllConnections?.(), 10_000);
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          s.closeIdleConnections?.();
        });
        await wheels.close();
        await stopWatching();
        await store.close();
      },
    };
  } catch (e) {
    await runs?.close().catch(() => {});
    await builds.close().catch(() => {});
    await wheels.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
