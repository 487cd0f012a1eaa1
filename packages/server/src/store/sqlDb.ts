import Database from "better-sqlite3";
import type pg from "pg";
import { openPgPool, pgTransaction } from "./pgPool";
import type { Row } from "./rows";

/**
 * A small SQL connection the side stores (build jobs, runs) share: `?` placeholders on both
 * backends, rows as plain objects. Their tables come from the store's migrations.
 */
export interface SqlDb {
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Run statements that must not interleave with other writers (one transaction). */
  tx<T>(fn: (all: SqlDb["all"]) => Promise<T>): Promise<T>;
  /** Whether an error is a unique (or primary key) constraint violation. */
  isUniqueViolation(e: unknown): boolean;
  close(): Promise<void>;
}

/** The server's database: a SQLite file or a PostgreSQL URL. */
export type SqlLocation = { sqliteFile: string } | { postgresUrl: string };

export function openSqlDb(location: SqlLocation): SqlDb {
  return "sqliteFile" in location ? new SqliteDb(location.sqliteFile) : new PostgresDb(location.postgresUrl);
}

class SqliteDb implements SqlDb {
  readonly #db: Database.Database;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
  }

  async all(sql: string, params: unknown[] = []): Promise<Row[]> {
    const st = this.#db.prepare(sql);
    if (st.reader) return st.all(...params) as Row[];
    st.run(...params);
    return [];
  }

  tx<T>(fn: (all: SqlDb["all"]) => Promise<T>): Promise<T> {
    // one transaction at a time on this connection: the next waits for the previous
    const run = async () => {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        const out = await fn((sql, params) => this.all(sql, params));
        this.#db.exec("COMMIT");
        return out;
      } catch (e) {
        this.#db.exec("ROLLBACK");
        throw e;
      }
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => {});
    return next;
  }

  isUniqueViolation(e: unknown): boolean {
    const code = (e as { code?: unknown }).code;
    return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

/** `?` placeholders as PostgreSQL's `$1, $2, ...`. */
export function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

class PostgresDb implements SqlDb {
  readonly #pool: pg.Pool;

  constructor(url: string) {
    this.#pool = openPgPool(url, 4);
  }

  async all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query(toPg(sql), params)).rows as Row[];
  }

  tx<T>(fn: (all: SqlDb["all"]) => Promise<T>): Promise<T> {
    return pgTransaction(this.#pool, (c) =>
      fn(async (sql, params = []) => (await c.query(toPg(sql), params)).rows as Row[]),
    );
  }

  isUniqueViolation(e: unknown): boolean {
    return (e as { code?: unknown }).code === "23505";
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
