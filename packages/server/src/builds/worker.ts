import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { jsonLogger, type Logger } from "../logger";
import { openStore } from "../server";
import { openWheelSupport, type WheelSupport, type WheelSupportOptions } from "../wheels/support";
import { type BuildSupport, type BuildSupportOptions, openBuildSupport } from "./buildSupport";

export interface BuildWorkerOptions {
  /** The server's data directory (SQLite database, signing and secrets keys when not given). */
  dataDir: string;
  /** The server's PostgreSQL URL; otherwise SQLite at `<dataDir>/mlenv.db`. */
  database?: string | undefined;
  /** The same image-build settings as the server's (base images, registry, conda executable). */
  builds?: BuildSupportOptions | undefined;
  /** Signing and secrets keys: the server's (see `openWheelSupport`). */
  wheels?: Omit<WheelSupportOptions, "dataDir" | "database"> | undefined;
  /** Where the worker answers the one-time pip payloads of its builds (default 127.0.0.1, port 0). */
  host?: string | undefined;
  port?: number | undefined;
  /** The mlenv server's URL: signed private-wheel URLs of builds point at it. */
  serverUrl?: string | undefined;
  logger?: Logger | undefined;
}

export interface RunningBuildWorker {
  /** Where the build containers fetch their one-time pip payloads. */
  url: string;
  close(): Promise<void>;
}

/**
 * A standalone build worker: claims jobs from the server's build queue (jobs are claimed
 * atomically; a worker that dies is found by its stale heartbeat) and builds them exactly as the
 * server's own builder does: the same base images and conda executable, the registry and its
 * credentials, private base-image credentials and pip index secrets from the job's workspace,
 * private wheels through the server's signed URLs, and the image the job recorded. The database
 * is migrated as the server does it. Running builds are failed as interrupted on `close()`.
 */
export async function startBuildWorker(options: BuildWorkerOptions): Promise<RunningBuildWorker> {
  const logger = options.logger ?? jsonLogger();
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  // one database handle for the process: the registry store's, shared with the job and wheel stores
  const store = await openStore(options);
  let wheels: WheelSupport | undefined;
  let builds: BuildSupport | undefined;
  let listener: ReturnType<typeof serve> | undefined;
  try {
    wheels = openWheelSupport({
      ...options.wheels,
      dataDir: options.dataDir,
      database: options.database,
      db: store.db,
    });
    builds = openBuildSupport({
      dataDir: options.dataDir,
      database: options.database,
      db: store.db,
      store,
      wheels,
      logger,
      builds: options.builds,
      shared: true,
      serverUrl: options.serverUrl,
    });
    // build containers reach the payload route over host networking
    const host = options.host ?? "127.0.0.1";
    const app = builds.broker.routes();
    listener = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: options.port ?? 0 }, () => resolve(s));
      s.once("error", reject);
    });
    const port = (listener.address() as AddressInfo).port;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    builds.setBaseUrl(url);
    await builds.start();
    logger.info("build worker ready", { url, store: store.kind });
    let closed = false;
    const opened = { builds, wheels, listener };
    return {
      url,
      async close() {
        if (closed) return;
        closed = true;
        await opened.builds.close();
        await new Promise<void>((resolve) => opened.listener.close(() => resolve()));
        await opened.wheels.close();
        await store.close();
      },
    };
  } catch (e) {
    await builds?.close().catch(() => {});
    listener?.close();
    await wheels?.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
