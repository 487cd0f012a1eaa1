import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import {
  type Compilable,
  CompiledQuery,
  Kysely,
  PostgresDialect,
  type SqliteDatabase,
  SqliteDialect,
  type SqliteStatement,
} from "kysely";
import { openPgPool, pgTransaction } from "./pgPool";

/** The server's database: a SQLite file or a PostgreSQL URL. */
export type SqlLocation = { sqliteFile: string } | { postgresUrl: string };

/** What one statement of a transaction answers: its rows (RETURNING included) and how many it changed. */
export interface StepResult {
  rows: unknown[];
  changes: number;
}

/**
 * A transaction body: a generator that yields statements and receives their results (use
 * {@link rows}, {@link first} and {@link exec} with `yield*` for typed results). It cannot await
 * anything else, so SQLite runs it synchronously inside one `BEGIN IMMEDIATE` (never holding the
 * write lock across an await) and PostgreSQL on one pooled client.
 */
export type TxBody<T> = () => Generator<CompiledQuery, T, StepResult>;

type Statement = Compilable<unknown> | CompiledQuery;
const compiled = (q: Statement): CompiledQuery => ("compile" in q ? q.compile() : q);

/** Inside a transaction body: the rows a statement returns. */
export function* rows<O>(q: Compilable<O> | CompiledQuery<O>): Generator<CompiledQuery, O[], StepResult> {
  return (yield compiled(q)).rows as O[];
}

/** Inside a transaction body: the first row a statement returns, if any. */
export function* first<O>(
  q: Compilable<O> | CompiledQuery<O>,
): Generator<CompiledQuery, O | undefined, StepResult> {
  return (yield* rows(q))[0];
}

/** Inside a transaction body: run a statement; how many rows it changed. */
export function* exec(q: Statement): Generator<CompiledQuery, number, StepResult> {
  return (yield compiled(q)).changes;
}

/**
 * One database handle per process: one better-sqlite3 connection or one PostgreSQL pool, with a
 * Kysely instance for typed queries, plain SQL for the stores not yet typed, and the one
 * transaction primitive. Every store of the server is given this handle; only its opener closes it.
 */
export interface Database {
  readonly dialect: "sqlite" | "postgres";
  /** Typed queries; a store narrows the tables with `withTables<T>()`. */
  readonly kysely: Kysely<object>;
  /** The PostgreSQL URL (for LISTEN connections); absent on SQLite. */
  readonly postgresUrl?: string;
  /** A statement with `?` placeholders (both dialects), compiled for this database. */
  raw(sql: string, params?: readonly unknown[]): CompiledQuery;
  /** Run plain SQL with `?` placeholders; its rows (RETURNING included). */
  all(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * Run `body` in one write transaction. `lockKey` serialises writers of one key across processes
   * on PostgreSQL (an advisory lock); SQLite takes its write lock up front.
   */
  tx<T>(body: TxBody<T>, lockKey?: string): Promise<T>;
  /** Whether an error is a unique (or primary key) constraint violation. */
  isUniqueViolation(e: unknown): boolean;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** PostgreSQL pool size (default 10). */
  maxConnections?: number;
}

/** Open the database a location names (tables come from {@link migrate}). */
export function openDatabase(location: SqlLocation, options: OpenDatabaseOptions = {}): Database {
  return "sqliteFile" in location
    ? openSqlite(location.sqliteFile)
    : openPostgres(location.postgresUrl, options.maxConnections ?? 10);
}

/** Where a server keeps its database: PostgreSQL at `database` when given, else SQLite at `<dataDir>/mlenv.db`. */
export function serverDatabase(options: { dataDir: string; database?: string | undefined }): SqlLocation {
  return options.database
    ? { postgresUrl: options.database }
    : { sqliteFile: join(options.dataDir, "mlenv.db") };
}

/** The process's one database handle when it is given, else where {@link serverDatabase} opens one. */
export function sharedDatabase(options: {
  db?: Database | undefined;
  dataDir: string;
  database?: string | undefined;
}): Database | SqlLocation {
  return options.db ?? serverDatabase(options);
}

/**
 * A store's database: the handle it is given (the caller closes it) or one it opens from a
 * location for itself (closed with the store).
 */
export function useDatabase(source: Database | SqlLocation): { db: Database; release(): Promise<void> } {
  if ("dialect" in source) return { db: source, release: async () => {} };
  const db = openDatabase(source, { maxConnections: 4 });
  return { db, release: () => db.close() };
}

/** `?` placeholders as PostgreSQL's `$1, $2, ...`. */
export function toPg(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

/** better-sqlite3 binds no booleans: store them as 1/0, as the schema's BOOLEAN columns expect. */
const sqliteParams = (params: readonly unknown[]): unknown[] =>
  params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));

function openSqlite(file: string): Database {
  const conn = new BetterSqlite3(file);
  conn.pragma("journal_mode = WAL");
  conn.pragma("synchronous = NORMAL");
  conn.pragma("foreign_keys = ON");
  conn.pragma("busy_timeout = 5000");
  // Reads dominate: map the file (no read syscalls per page) and keep a 64 MiB page cache
  // instead of the 2 MiB default, so a registry of tens of thousands of versions stays hot.
  conn.pragma("mmap_size = 268435456");
  conn.pragma("cache_size = -65536");

  // Prepared statements are cached per SQL text (parsed once per process).
  const cache = new Map<string, BetterSqlite3.Statement>();
  const prepare = (sql: string): BetterSqlite3.Statement => {
    let st = cache.get(sql);
    if (!st) {
      st = conn.prepare(sql);
      if (cache.size > 500) cache.clear();
      cache.set(sql, st);
    }
    return st;
  };
  const run = (q: CompiledQuery): StepResult => {
    const st = prepare(q.sql);
    const params = sqliteParams(q.parameters);
    if (st.reader) return { rows: st.all(...params), changes: 0 };
    return { rows: [], changes: st.run(...params).changes };
  };
  // What Kysely's SqliteDialect runs on: the same connection and statement cache.
  const adapter: SqliteDatabase = {
    close: () => conn.close(),
    prepare(sql): SqliteStatement {
      const st = prepare(sql);
      return {
        reader: st.reader,
        all: (p) => st.all(...sqliteParams(p)),
        run: (p) => st.run(...sqliteParams(p)),
        iterate: (p) => st.iterate(...sqliteParams(p)),
      };
    },
  };
  const kysely = new Kysely<object>({ dialect: new SqliteDialect({ database: adapter }) });

  return {
    dialect: "sqlite",
    kysely,
    raw: (sql, params = []) => CompiledQuery.raw(sql, [...params]),
    async all(sql, params = []) {
      return run(CompiledQuery.raw(sql, [...params])).rows as Record<string, unknown>[];
    },
    async tx<T>(body: TxBody<T>): Promise<T> {
      // Synchronous from BEGIN IMMEDIATE to COMMIT: nothing else of this process runs in between.
      return conn
        .transaction(() => {
          const g = body();
          let step = g.next();
          while (!step.done) step = g.next(run(step.value));
          return step.value;
        })
        .immediate();
    },
    isUniqueViolation(e) {
      const code = (e as { code?: unknown }).code;
      return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
    },
    async close() {
      // Kysely closes the connection only once it has used it
      await kysely.destroy();
      if (conn.open) conn.close();
    },
  };
}

function openPostgres(url: string, max: number): Database {
  const pool = openPgPool(url, max);
  const kysely = new Kysely<object>({ dialect: new PostgresDialect({ pool }) });
  const raw = (sql: string, params: readonly unknown[] = []) => CompiledQuery.raw(toPg(sql), [...params]);
  return {
    dialect: "postgres",
    kysely,
    postgresUrl: url,
    raw,
    async all(sql, params = []) {
      return (await kysely.executeQuery(raw(sql, params))).rows as Record<string, unknown>[];
    },
    tx<T>(body: TxBody<T>, lockKey?: string): Promise<T> {
      return pgTransaction(pool, async (c) => {
        if (lockKey !== undefined)
          await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7242))", [lockKey]);
        const g = body();
        let step = g.next();
        while (!step.done) {
          const res = await c.query(step.value.sql, [...step.value.parameters]);
          step = g.next({ rows: res.rows, changes: res.rowCount ?? 0 });
        }
        return step.value;
      });
    },
    isUniqueViolation: (e) => (e as { code?: unknown }).code === "23505",
    async close() {
      // Kysely ends the pool only once it has used it
      await kysely.destroy();
      if (!pool.ended) await pool.end();
    },
  };
}
