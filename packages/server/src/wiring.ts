import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { type BuildSupport, type BuildSupportOptions, openBuildSupport } from "./builds/buildSupport";
import { serverMigrations } from "./database";
import type { Logger } from "./logger";
import { openDatabase, serverDatabase } from "./store/database";
import { SqlStore } from "./store/sqlStore";
import { openWheelSupport, type WheelSupport, type WheelSupportOptions } from "./wheels/support";

/** Where a process keeps its data and which database it shares. */
export interface StoreSettings {
  /** Holds the SQLite database (and, by default, keys and blobs). Created if missing. */
  dataDir: string;
  /** `postgres://...` to use PostgreSQL; otherwise SQLite at `<dataDir>/mlenv.db`. */
  database?: string | undefined;
  /** PostgreSQL pool size (default 10). */
  maxConnections?: number | undefined;
}

/**
 * Open the process's one database handle for what the settings name, migrated (every feature's
 * tables), and the registry store on it; `store.db` is the handle the other stores share and
 * `store.close()` closes it.
 */
export async function openStore(options: StoreSettings): Promise<SqlStore> {
  if (options.database && !/^postgres(ql)?:\/\//.test(options.database)) {
    throw new Error(
      `Expected database to be a PostgreSQL URL like postgres://user@127.0.0.1:5432/mlenv; received ${JSON.stringify(options.database.replace(/\/\/[^@/]*@/, "//***@")).slice(0, 200)}`,
    );
  }
  const db = openDatabase(serverDatabase(options), { maxConnections: options.maxConnections ?? 10 });
  const store = new SqlStore(db, { migrations: serverMigrations, owned: true });
  try {
    await store.migrate();
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  return store;
}

export interface BuildWiringSettings extends StoreSettings {
  /** Image builds: base images, registry, Docker engine, concurrency, timeout. */
  builds?: BuildSupportOptions | undefined;
  /** Private wheels and secrets: signing key, secrets key, upload limit. */
  wheels?: Omit<WheelSupportOptions, "dataDir" | "database"> | undefined;
  logger: Logger;
  /** Other processes hold builds on this database too (a standalone build worker says so). */
  shared?: boolean | undefined;
  /** The mlenv server's URL, when this process is not the server (a standalone build worker). */
  serverUrl?: string | undefined;
}

/** The database, private wheels and image builds of a server or a standalone build worker. */
export interface BuildWiring {
  store: SqlStore;
  wheels: WheelSupport;
  builds: BuildSupport;
}

/**
 * Wire what a server and a build worker both run, from the same settings: the data directory,
 * the process's one database handle (migrated; every store shares it), private wheels and image
 * builds. What was opened is closed again when a later part fails.
 */
export async function buildWiring(settings: BuildWiringSettings): Promise<BuildWiring> {
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const store = await openStore(settings);
  let wheels: WheelSupport | undefined;
  try {
    wheels = openWheelSupport({
      ...settings.wheels,
      dataDir: settings.dataDir,
      database: settings.database,
      db: store.db,
    });
    const builds = openBuildSupport({
      dataDir: settings.dataDir,
      database: settings.database,
      db: store.db,
      store,
      wheels,
      logger: settings.logger,
      builds: settings.builds,
      shared: settings.shared,
      serverUrl: settings.serverUrl,
    });
    return { store, wheels, builds };
  } catch (e) {
    await wheels?.close().catch(() => {});
    await store.close().catch(() => {});
    throw e;
  }
}

/** Listen on `host` and `port` (0: a free one): the HTTP server, its port and its URL. */
export async function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  host: string,
  port: number,
): Promise<{ server: ReturnType<typeof serve>; port: number; url: string }> {
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch, hostname: host, port }, () => resolve(s));
    s.once("error", reject);
  });
  const bound = (server.address() as AddressInfo).port;
  return { server, port: bound, url: `http://${host.includes(":") ? `[${host}]` : host}:${bound}` };
}
