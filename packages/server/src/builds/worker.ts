import type { serve } from "@hono/node-server";
import { jsonLogger, type Logger } from "../logger";
import type { WheelSupportOptions } from "../wheels/support";
import { buildWiring, listen } from "../wiring";
import type { BuildSupportOptions } from "./buildSupport";

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
  // one database handle for the process: the registry store's, shared with the job and wheel stores
  const { store, wheels, builds } = await buildWiring({ ...options, logger, shared: true });
  let listener: ReturnType<typeof serve> | undefined;
  try {
    // build containers reach the payload route over host networking
    const { server, url } = await listen(
      builds.broker.routes().fetch,
      options.host ?? "127.0.0.1",
      options.port ?? 0,
    );
    listener = server;
    builds.setBaseUrl(url);
    await builds.start();
    logger.info("build worker ready", { url, store: store.kind });
    let closed = false;
    return {
      url,
      async close() {
        if (closed) return;
        closed = true;
        await builds.close();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await wheels.close();
        await store.close();
      },
    };
  } catch (e) {
    await builds.close().catch(() => {});
    listener?.close();
    await wheels.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}
