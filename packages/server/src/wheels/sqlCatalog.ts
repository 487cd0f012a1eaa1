import Database from "better-sqlite3";
import type pg from "pg";
import { openPgPool, pgTransaction } from "../store/pgPool";
import { toPg } from "../store/sqlDb";
import {
  type SecretInfo,
  toRevision,
  toSecretInfo,
  toWheel,
  type WheelCatalog,
  type WheelPutInput,
  type WheelPutResult,
  type WheelRecord,
  type WheelRevision,
} from "./catalog";
import { received, WheelError, WheelErrorCodes } from "./errors";
import { SecretBox } from "./secretBox";

type Row = Record<string, unknown>;

/** One SQL statement with `?` placeholders (every dialect). */
interface Query {
  sql: string;
  params: unknown[];
}
const q = (sql: string, params: unknown[] = []): Query => ({ sql, params });

/**
 * A transaction body: a generator that yields statements and receives their rows. SQLite runs
 * it synchronously inside one `BEGIN IMMEDIATE` (never holding the lock across an await, which
 * would deadlock other connections of this process); PostgreSQL runs it on one pooled client.
 */
type TxBody<T> = () => Generator<Query, T, Row[]>;

interface Db {
  all(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Run `body` in a write transaction; `lockKey` serialises writers of one key across processes. */
  tx<T>(lockKey: string, body: TxBody<T>): Promise<T>;
  close(): Promise<void>;
}

class SqliteDb implements Db {
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma("busy_timeout = 5000");
    this.#db.pragma("foreign_keys = ON");
  }

  async all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return this.#allSync(sql, params);
  }

  #allSync(sql: string, params: unknown[]): Row[] {
    const st = this.#db.prepare(sql);
    if (st.reader) return st.all(...params) as Row[];
    st.run(...params);
    return [];
  }

  async tx<T>(_lockKey: string, body: TxBody<T>): Promise<T> {
    return this.#db
      .transaction(() => {
        const g = body();
        let step = g.next();
        while (!step.done) step = g.next(this.#allSync(step.value.sql, step.value.params));
        return step.value;
      })
      .immediate();
  }

  async close(): Promise<void> {
    this.#db.close();
  }
}

class PostgresDb implements Db {
  readonly #pool: pg.Pool;

  constructor(url: string) {
    this.#pool = openPgPool(url, 4);
  }

  async all(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query(toPg(sql), params)).rows as Row[];
  }

  tx<T>(lockKey: string, body: TxBody<T>): Promise<T> {
    return pgTransaction(this.#pool, async (c) => {
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7242))", [lockKey]);
      const g = body();
      let step = g.next();
      while (!step.done)
        step = g.next((await c.query(toPg(step.value.sql), step.value.params)).rows as Row[]);
      return step.value;
    });
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

/** The wheel catalog over SQL; use {@link openWheelCatalog}. */
class SqlWheelCatalog implements WheelCatalog {
  constructor(
    private readonly db: Db,
    private readonly box: SecretBox | null = null,
  ) {}

  /** What is stored for a secret's value: sealed when the catalog has a key. */
  #stored(workspaceId: string, name: string, value: string): string {
    return this.box ? this.box.seal(workspaceId, name, value) : value;
  }

  /**
   * Encrypt the secrets an older server stored in plain text (each row once, in place); returns
   * how many. A no-op without a key.
   */
  async sealPlaintextSecrets(): Promise<number> {
    const box = this.box;
    if (!box) return 0;
    const rows = await this.db.all("SELECT workspace_id, name, value FROM workspace_secrets");
    let n = 0;
    for (const r of rows) {
      const value = String(r.value);
      if (SecretBox.isSealed(value)) continue;
      const ws = String(r.workspace_id);
      const name = String(r.name);
      await this.db.all(
        "UPDATE workspace_secrets SET value = ? WHERE workspace_id = ? AND name = ? AND value = ?",
        [box.seal(ws, name, value), ws, name, value],
      );
      n++;
    }
    return n;
  }

  async get(workspaceId: string, filename: string): Promise<WheelRecord | null> {
    const [r] = await this.db.all("SELECT * FROM wheels WHERE workspace_id = ? AND filename = ?", [
      workspaceId,
      filename,
    ]);
    return r ? toWheel(r) : null;
  }

  async list(workspaceId: string, project?: string): Promise<WheelRecord[]> {
    const rows =
      project === undefined
        ? await this.db.all("SELECT * FROM wheels WHERE workspace_id = ? ORDER BY project, filename", [
            workspaceId,
          ])
        : await this.db.all("SELECT * FROM wheels WHERE workspace_id = ? AND project = ? ORDER BY filename", [
            workspaceId,
            project,
          ]);
    return rows.map(toWheel);
  }

  async projects(workspaceId: string): Promise<string[]> {
    const rows = await this.db.all(
      "SELECT DISTINCT project FROM wheels WHERE workspace_id = ? ORDER BY project",
      [workspaceId],
    );
    return rows.map((r) => String(r.project));
  }

  async put(input: WheelPutInput): Promise<WheelPutResult> {
    return this.db.tx(`wheel:${input.workspaceId}:${input.filename}`, function* () {
      const [cur] = yield q("SELECT * FROM wheels WHERE workspace_id = ? AND filename = ?", [
        input.workspaceId,
        input.filename,
      ]);
      const existing = cur ? toWheel(cur) : null;
      if (existing && existing.sha256 === input.sha256)
        return { status: "unchanged", wheel: existing, previous: null };
      if (existing && !input.overwrite) {
        throw new WheelError(
          WheelErrorCodes.exists,
          `Expected a new file name or the same bytes, but "${received(input.filename)}" already holds different bytes (sha256 ${existing.sha256}, received ${input.sha256}); upload with overwrite (--overwrite) to replace it, the old bytes are kept`,
          { details: { filename: input.filename, existingSha256: existing.sha256, sha256: input.sha256 } },
        );
      }
      const revision = existing ? existing.revision + 1 : 1;
      if (existing) {
        yield q(
          `UPDATE wheels SET project = ?, name = ?, version = ?, sha256 = ?, size = ?, metadata_sha256 = ?,
             requires_python = ?, summary = ?, yanked = 0, yanked_reason = NULL, revision = ?, uploaded_at = ?, uploaded_by = ?
           WHERE workspace_id = ? AND filename = ?`,
          [
            input.project,
            input.name,
            input.version,
            input.sha256,
            input.size,
            input.metadataSha256,
            input.requiresPython,
            input.summary,
            revision,
            input.uploadedAt,
            input.uploadedBy,
            input.workspaceId,
            input.filename,
          ],
        );
      } else {
        yield q(
          `INSERT INTO wheels (workspace_id, filename, project, name, version, sha256, size, metadata_sha256,
             requires_python, summary, yanked, yanked_reason, revision, uploaded_at, uploaded_by)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)`,
          [
            input.workspaceId,
            input.filename,
            input.project,
            input.name,
            input.version,
            input.sha256,
            input.size,
            input.metadataSha256,
            input.requiresPython,
            input.summary,
            revision,
            input.uploadedAt,
            input.uploadedBy,
          ],
        );
      }
      yield q(
        `INSERT INTO wheel_revisions (workspace_id, filename, revision, sha256, size, metadata_sha256, uploaded_at, uploaded_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          input.workspaceId,
          input.filename,
          revision,
          input.sha256,
          input.size,
          input.metadataSha256,
          input.uploadedAt,
          input.uploadedBy,
        ],
      );
      const [row] = yield q("SELECT * FROM wheels WHERE workspace_id = ? AND filename = ?", [
        input.workspaceId,
        input.filename,
      ]);
      const previous = existing
        ? {
            filename: existing.filename,
            revision: existing.revision,
            sha256: existing.sha256,
            size: existing.size,
            metadataSha256: existing.metadataSha256,
            uploadedAt: existing.uploadedAt,
            uploadedBy: existing.uploadedBy,
          }
        : null;
      return { status: existing ? "replaced" : "created", wheel: toWheel(row!), previous };
    });
  }

  async revisions(workspaceId: string, filename: string): Promise<WheelRevision[]> {
    const rows = await this.db.all(
      "SELECT * FROM wheel_revisions WHERE workspace_id = ? AND filename = ? ORDER BY revision",
      [workspaceId, filename],
    );
    return rows.map(toRevision);
  }

  async setYanked(input: {
    workspaceId: string;
    filename: string;
    yanked: boolean;
    reason: string | null;
  }): Promise<WheelRecord | null> {
    await this.db.all(
      "UPDATE wheels SET yanked = ?, yanked_reason = ? WHERE workspace_id = ? AND filename = ?",
      [input.yanked ? 1 : 0, input.yanked ? input.reason : null, input.workspaceId, input.filename],
    );
    return this.get(input.workspaceId, input.filename);
  }

  async putSecret(input: {
    workspaceId: string;
    name: string;
    value: string;
    now: string;
  }): Promise<SecretInfo> {
    const stored = this.#stored(input.workspaceId, input.name, input.value);
    return this.db.tx(`secret:${input.workspaceId}:${input.name}`, function* () {
      const [cur] = yield q("SELECT created_at FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [
        input.workspaceId,
        input.name,
      ]);
      if (cur) {
        yield q(
          "UPDATE workspace_secrets SET value = ?, updated_at = ? WHERE workspace_id = ? AND name = ?",
          [stored, input.now, input.workspaceId, input.name],
        );
        return { name: input.name, createdAt: String(cur.created_at), updatedAt: input.now };
      }
      yield q(
        "INSERT INTO workspace_secrets (workspace_id, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        [input.workspaceId, input.name, stored, input.now, input.now],
      );
      return { name: input.name, createdAt: input.now, updatedAt: input.now };
    });
  }

  async getSecret(workspaceId: string, name: string): Promise<string | null> {
    const [r] = await this.db.all("SELECT value FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [
      workspaceId,
      name,
    ]);
    if (!r) return null;
    const stored = String(r.value);
    if (this.box) return this.box.open(workspaceId, name, stored);
    if (SecretBox.isSealed(stored)) {
      throw new Error(`secret ${name} is encrypted and this catalog was opened without the secrets key`);
    }
    return stored;
  }

  async listSecrets(workspaceId: string): Promise<SecretInfo[]> {
    const rows = await this.db.all(
      "SELECT name, created_at, updated_at FROM workspace_secrets WHERE workspace_id = ? ORDER BY name",
      [workspaceId],
    );
    return rows.map(toSecretInfo);
  }

  async deleteSecret(workspaceId: string, name: string): Promise<boolean> {
    return this.db.tx(`secret:${workspaceId}:${name}`, function* () {
      const [r] = yield q("SELECT name FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [
        workspaceId,
        name,
      ]);
      if (!r) return false;
      yield q("DELETE FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [workspaceId, name]);
      return true;
    });
  }

  async getSecretHosts(workspaceId: string, name: string): Promise<string[]> {
    const [r] = await this.db.all(
      "SELECT hosts FROM workspace_secret_hosts WHERE workspace_id = ? AND name = ?",
      [workspaceId, name],
    );
    return r ? (JSON.parse(String(r.hosts)) as string[]) : [];
  }

  async setSecretHosts(workspaceId: string, name: string, hosts: string[]): Promise<void> {
    const json = JSON.stringify(hosts);
    await this.db.tx(`secret-hosts:${workspaceId}:${name}`, function* () {
      yield q("DELETE FROM workspace_secret_hosts WHERE workspace_id = ? AND name = ?", [workspaceId, name]);
      yield q("INSERT INTO workspace_secret_hosts (workspace_id, name, hosts) VALUES (?, ?, ?)", [
        workspaceId,
        name,
        json,
      ]);
      return undefined;
    });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/**
 * Open the wheel catalog on the server's database: the SQLite file or the PostgreSQL URL the
 * registry Store uses (its migrations, including `0002_wheels`, must have run).
 */
export function openWheelCatalog(
  location: { sqliteFile: string } | { postgresUrl: string },
  options: { secretBox?: SecretBox } = {},
): WheelCatalog & { sealPlaintextSecrets(): Promise<number> } {
  return new SqlWheelCatalog(
    "sqliteFile" in location ? new SqliteDb(location.sqliteFile) : new PostgresDb(location.postgresUrl),
    options.secretBox ?? null,
  );
}
