import { buildMigrations } from "./builds/jobStore";
import { computeMigrations } from "./compute/store";
import { runMigrations } from "./runs/runStore";
import { openDatabase } from "./store/database";
import { registryMigrations } from "./store/migrations";
import type { Migration } from "./store/migrator";
import { SqlStore } from "./store/sqlStore";
import { wheelMigrations } from "./wheels/catalog";

/** Every feature's migrations: the server's whole schema, applied by the one migrator. */
export const serverMigrations: readonly Migration[] = [
  ...registryMigrations,
  ...wheelMigrations,
  ...buildMigrations,
  ...runMigrations,
  ...computeMigrations,
];

/** The registry store on a SQLite file (WAL mode), with its own connection; migrates the whole schema. */
export class SqliteStore extends SqlStore {
  constructor(file: string) {
    super(openDatabase({ sqliteFile: file }), { migrations: serverMigrations, owned: true });
  }
}

/** The registry store on PostgreSQL, with its own pool; migrates the whole schema. */
export class PostgresStore extends SqlStore {
  constructor(url: string, options: { maxConnections?: number } = {}) {
    super(openDatabase({ postgresUrl: url }, options), { migrations: serverMigrations, owned: true });
  }
}
