import { type Database, exec, rows } from "./database";

/**
 * A schema migration: its SQL for each dialect. Each feature exports its own list (ids are
 * global: `0001_registry`, `0002_wheels`...); append new ones, never edit or reorder applied ones.
 */
export interface Migration {
  id: string;
  sqlite: string;
  postgres: string;
}

/**
 * A migration whose SQL is written once: with the dialect as its parameter, or as one text both
 * dialects run.
 */
export function migration(id: string, sql: string | ((dialect: "sqlite" | "postgres") => string)): Migration {
  return typeof sql === "string"
    ? { id, sqlite: sql, postgres: sql }
    : { id, sqlite: sql("sqlite"), postgres: sql("postgres") };
}

/**
 * The column types whose names differ by dialect: `big`, a 64-bit integer; `text`, text keys
 * that compare bytewise (PostgreSQL's "C" collation, as SQLite compares).
 */
export function columnTypes(dialect: "sqlite" | "postgres"): { big: string; text: string } {
  return dialect === "postgres"
    ? { big: "BIGINT", text: 'TEXT COLLATE "C"' }
    : { big: "INTEGER", text: "TEXT" };
}

/** Any fixed number: the advisory lock key that serialises migrations across processes. */
const MIGRATION_LOCK = 7_242_023_101;

/** The statements of a migration's SQL (none of ours has a `;` inside a statement). */
const statements = (sql: string): string[] =>
  sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s !== "");

/**
 * Apply the migrations not yet recorded in `schema_migrations`, in id order, in one transaction
 * (safe to call from several processes at once: PostgreSQL serialises them on an advisory lock,
 * SQLite on its write lock).
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<void> {
  const ordered = [...migrations].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const ids = ordered.map((m) => m.id);
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice) throw new Error(`Expected each migration id once; received ${twice} twice`);
  const dialect = db.dialect;
  await db.tx(function* () {
    if (dialect === "postgres") yield* exec(db.raw(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`));
    yield* exec(
      db.raw("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"),
    );
    const done = new Set(
      (yield* rows<{ id: string }>(db.raw("SELECT id FROM schema_migrations"))).map((r) => String(r.id)),
    );
    for (const m of ordered) {
      if (done.has(m.id)) continue;
      for (const s of statements(m[dialect])) yield* exec(db.raw(s));
      yield* exec(
        db.raw("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)", [
          m.id,
          new Date().toISOString(),
        ]),
      );
    }
  });
}

/** Ids of the migrations applied so far, in order. */
export async function appliedMigrations(db: Database): Promise<string[]> {
  return (await db.all("SELECT id FROM schema_migrations ORDER BY id")).map((r) => String(r.id));
}
