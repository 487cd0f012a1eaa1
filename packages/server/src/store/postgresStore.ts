import { createHash, randomUUID } from "node:crypto";
import pg from "pg";
import { migrations } from "./migrations";
import { openPgPool, pgTransaction } from "./pgPool";
import {
  charLength,
  type Row,
  tagsJson,
  toEnvironment,
  toLabel,
  toToken,
  toVersion,
  toVersionSummary,
  toWorkspace,
} from "./rows";
import type {
  AuthenticatedToken,
  EnvironmentRecord,
  LabelRecord,
  ListedEnvironment,
  ListInput,
  RegisterInput,
  RegisterResult,
  Resolved,
  Role,
  Store,
  TokenRecord,
  VersionRecord,
  WorkspaceRecord,
} from "./types";

const names = new Map<string, string>();
function statementName(sql: string): string {
  let n = names.get(sql);
  if (!n) {
    n = `mlenv_${createHash("sha1").update(sql).digest("hex").slice(0, 16)}`;
    names.set(sql, n);
  }
  return n;
}

/** NOTIFY channel carrying the hash of each revoked token. */
const REVOKED_CHANNEL = "mlenv_token_revoked";

/** Any fixed number: the advisory lock key that serialises migrations across processes. */
const MIGRATION_LOCK = 7_242_023_101;

const RESOLVE_SQL = `
SELECT e.name AS e_name, e.latest_version AS e_latest_version, e.archived AS e_archived,
       e.curated AS e_curated, e.created_at AS e_created_at, e.updated_at AS e_updated_at, v.*,
       (SELECT string_agg(label, ',' ORDER BY label) FROM environment_labels x
          WHERE x.workspace_id = e.workspace_id AND x.name = e.name AND x.version = v.version) AS labels
FROM environments e
LEFT JOIN environment_labels lb ON lb.workspace_id = e.workspace_id AND lb.name = e.name AND lb.label = $1::text
LEFT JOIN environment_versions v ON v.workspace_id = e.workspace_id AND v.name = e.name
  AND v.version = (CASE WHEN $1::text IS NOT NULL THEN lb.version ELSE COALESCE($2::int, e.latest_version) END)
WHERE e.workspace_id = $3 AND e.name = $4 AND e.latest_version > 0`;

/** PostgreSQL backend (node-postgres pool). Several server processes may share one database. */
export class PostgresStore implements Store {
  readonly kind = "postgres" as const;
  readonly #pool: pg.Pool;

  readonly #url: string;

  constructor(url: string, options: { maxConnections?: number } = {}) {
    this.#url = url;
    // An idle client losing its connection must not crash the process (openPgPool).
    this.#pool = openPgPool(url, options.maxConnections ?? 10);
  }

  #tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return pgTransaction(this.#pool, fn);
  }

  /** Run as a named prepared statement (parsed once per connection). */
  async #rows(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query({ name: statementName(sql), text: sql, values: params })).rows as Row[];
  }

  async migrate(): Promise<void> {
    await this.#tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
      );
      const done = new Set((await c.query("SELECT id FROM schema_migrations")).rows.map((r) => String(r.id)));
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        await c.query(m.postgres);
        await c.query("INSERT INTO schema_migrations (id, applied_at) VALUES ($1, $2)", [
          m.id,
          new Date().toISOString(),
        ]);
      }
    });
  }

  async ping(): Promise<void> {
    await this.#pool.query("SELECT 1");
  }

  async optimize(): Promise<void> {
    await this.#pool.query("ANALYZE");
  }

  async appliedMigrations(): Promise<string[]> {
    return (await this.#rows("SELECT id FROM schema_migrations ORDER BY id")).map((r) => String(r.id));
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }

  async createWorkspace(
    name: string,
    now: string,
    admin?: { name: string; tokenHash: string },
  ): Promise<WorkspaceRecord> {
    const id = randomUUID();
    const insert = "INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, $3)";
    if (!admin) {
      await this.#pool.query(insert, [id, name, now]);
      return { id, name, createdAt: now };
    }
    await this.#tx(async (c) => {
      await c.query(insert, [id, name, now]);
      await c.query(
        "INSERT INTO api_tokens (id, workspace_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, 'admin', $4, $5)",
        [randomUUID(), id, admin.name, admin.tokenHash, now],
      );
    });
    return { id, name, createdAt: now };
  }

  async getWorkspace(name: string): Promise<WorkspaceRecord | null> {
    const [r] = await this.#rows("SELECT * FROM workspaces WHERE name = $1", [name]);
    return r ? toWorkspace(r) : null;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return (await this.#rows("SELECT * FROM workspaces ORDER BY name")).map(toWorkspace);
  }

  async createToken(input: {
    workspaceId: string;
    name: string;
    role: Role;
    tokenHash: string;
    now: string;
  }): Promise<TokenRecord> {
    const id = randomUUID();
    await this.#pool.query(
      "INSERT INTO api_tokens (id, workspace_id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
      [id, input.workspaceId, input.name, input.role, input.tokenHash, input.now],
    );
    return {
      id,
      workspaceId: input.workspaceId,
      name: input.name,
      role: input.role,
      createdAt: input.now,
      revokedAt: null,
    };
  }

  async findToken(tokenHash: string): Promise<AuthenticatedToken | null> {
    const [r] = await this.#rows(
      `SELECT t.*, w.name AS workspace_name FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
       WHERE t.token_hash = $1 AND t.revoked_at IS NULL`,
      [tokenHash],
    );
    return r ? { ...toToken(r), workspaceName: String(r.workspace_name) } : null;
  }

  async listTokens(workspaceId: string): Promise<TokenRecord[]> {
    return (
      await this.#rows(
        "SELECT * FROM api_tokens WHERE workspace_id = $1 AND revoked_at IS NULL ORDER BY created_at, id",
        [workspaceId],
      )
    ).map(toToken);
  }

  async revokeToken(workspaceId: string, id: string, now: string): Promise<boolean> {
    // The notification is sent on commit, to every server process listening on this database.
    const res = await this.#pool.query(
      `WITH r AS (
         UPDATE api_tokens SET revoked_at = $1 WHERE workspace_id = $2 AND id = $3 AND revoked_at IS NULL
         RETURNING token_hash)
       SELECT pg_notify('${REVOKED_CHANNEL}', token_hash) FROM r`,
      [now, workspaceId, id],
    );
    return res.rowCount === 1;
  }

  async watchRevocations(
    onRevoked: (tokenHash: string | null) => void,
    onResumed?: () => void,
  ): Promise<() => Promise<void>> {
    let closing = false;
    let current: pg.Client | undefined;
    let retry: NodeJS.Timeout | undefined;
    // One LISTEN connection; when it is lost (a database restart or failover) the feed is
    // reported lost and the connection is made again every second until it is back.
    const listen = async (): Promise<void> => {
      const client = new pg.Client({ connectionString: this.#url });
      let failed = false;
      const fail = () => {
        if (failed || closing) return;
        failed = true;
        if (current === client) {
          current = undefined;
          onRevoked(null);
        }
        client.end().catch(() => {});
        retry = setTimeout(() => void listen().catch(() => {}), 1000);
        retry.unref();
      };
      client.on("error", fail);
      client.on("end", fail);
      client.on("notification", (m) => {
        if (m.channel === REVOKED_CHANNEL && m.payload) onRevoked(m.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${REVOKED_CHANNEL}`);
      } catch (e) {
        fail();
        throw e;
      }
      if (closing) {
        await client.end().catch(() => {});
        return;
      }
      current = client;
      if (connected) onResumed?.();
      connected = true;
    };
    let connected = false;
    await listen();
    return async () => {
      closing = true;
      if (retry) clearTimeout(retry);
      await current?.end().catch(() => {});
    };
  }

  async register(input: RegisterInput): Promise<RegisterResult> {
    return this.#tx(async (c) => {
      const ws = input.workspaceId;
      // Create the name row if absent, then lock it: concurrent registers of one name (from any
      // process) queue here, so each sees the committed latest_version of the one before.
      await c.query(
        `INSERT INTO environments (workspace_id, name, latest_version, archived, curated, created_at, updated_at)
         VALUES ($1, $2, 0, FALSE, $3, $4, $4) ON CONFLICT (workspace_id, name) DO NOTHING`,
        [ws, input.name, input.curated, input.now],
      );
      const env = (
        await c.query("SELECT * FROM environments WHERE workspace_id = $1 AND name = $2 FOR UPDATE", [
          ws,
          input.name,
        ])
      ).rows[0] as Row;
      if (input.onlyIfNew && Number(env.latest_version) > 0) {
        const latest = (
          await c.query(
            "SELECT * FROM environment_versions WHERE workspace_id = $1 AND name = $2 AND version = $3",
            [ws, input.name, env.latest_version],
          )
        ).rows[0] as Row;
        return { created: false, environment: toEnvironment(env), version: toVersion(latest) };
      }
      const same = (
        await c.query(
          "SELECT * FROM environment_versions WHERE workspace_id = $1 AND name = $2 AND definition_hash = $3",
          [ws, input.name, input.definitionHash],
        )
      ).rows[0] as Row | undefined;
      if (same) {
        if (same.lock !== null || (input.lockJson ?? null) === null)
          return { created: false, environment: toEnvironment(env), version: toVersion(same) };
        const attached = (
          await c.query(
            `UPDATE environment_versions SET lock = $1, image_key = $2
             WHERE workspace_id = $3 AND name = $4 AND version = $5 RETURNING *`,
            [input.lockJson, input.imageKey ?? null, ws, input.name, same.version],
          )
        ).rows[0] as Row;
        return {
          created: false,
          lockAttached: true,
          environment: toEnvironment(env),
          version: toVersion(attached),
        };
      }
      const version = Number(env.latest_version) + 1;
      const envAfter = (
        await c.query(
          `UPDATE environments SET latest_version = $1, updated_at = $2 WHERE workspace_id = $3 AND name = $4
           RETURNING *`,
          [version, input.now, ws, input.name],
        )
      ).rows[0] as Row;
      const row = (
        await c.query(
          `INSERT INTO environment_versions (workspace_id, name, version, definition_hash, definition,
             definition_blob, description, tags, created_at, created_by, lock, image_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *`,
          [
            ws,
            input.name,
            version,
            input.definitionHash,
            input.definitionJson,
            input.definitionBlob,
            input.description,
            tagsJson(input.tags),
            input.now,
            input.createdBy,
            input.lockJson ?? null,
            input.imageKey ?? null,
          ],
        )
      ).rows[0] as Row;
      for (const [k, v] of Object.entries(input.tags)) {
        await c.query(
          "INSERT INTO environment_version_tags (workspace_id, name, version, key, value) VALUES ($1, $2, $3, $4, $5)",
          [ws, input.name, version, k, v],
        );
      }
      return { created: true, environment: toEnvironment(envAfter), version: toVersion(row) };
    });
  }

  async getEnvironment(workspaceId: string, name: string): Promise<EnvironmentRecord | null> {
    const [r] = await this.#rows(
      "SELECT * FROM environments WHERE workspace_id = $1 AND name = $2 AND latest_version > 0",
      [workspaceId, name],
    );
    return r ? toEnvironment(r) : null;
  }

  async resolve(
    workspaceId: string,
    name: string,
    which: { version?: number | undefined; label?: string | undefined },
  ): Promise<Resolved | null> {
    const [r] = await this.#rows(RESOLVE_SQL, [
      which.label ?? null,
      which.version ?? null,
      workspaceId,
      name,
    ]);
    if (!r) return null;
    return {
      environment: toEnvironment(r, "e_"),
      version: r.version === null ? null : toVersion(r),
      labels: r.labels ? String(r.labels).split(",") : [],
    };
  }

  async getVersion(workspaceId: string, name: string, version: number): Promise<VersionRecord | null> {
    const [r] = await this.#rows(
      "SELECT * FROM environment_versions WHERE workspace_id = $1 AND name = $2 AND version = $3",
      [workspaceId, name, version],
    );
    return r ? toVersion(r) : null;
  }

  async listVersions(workspaceId: string, name: string): Promise<VersionRecord[]> {
    return (
      await this.#rows(
        "SELECT * FROM environment_versions WHERE workspace_id = $1 AND name = $2 ORDER BY version",
        [workspaceId, name],
      )
    ).map(toVersion);
  }

  async listEnvironments(input: ListInput): Promise<ListedEnvironment[]> {
    const params: unknown[] = [input.workspaceId];
    const p = (v: unknown): string => {
      params.push(v);
      return `$${params.length}`;
    };
    const where: string[] = ["e.workspace_id = $1"];
    if (input.archived === "exclude") where.push("e.archived = FALSE");
    if (input.archived === "only") where.push("e.archived = TRUE");
    if (input.prefix) where.push(`substr(e.name, 1, ${p(charLength(input.prefix))}) = ${p(input.prefix)}`);
    if (input.after !== undefined) where.push(`e.name > ${p(input.after)}`);
    if (input.tagKey !== undefined) {
      let cond = `EXISTS (SELECT 1 FROM environment_version_tags t WHERE t.workspace_id = e.workspace_id
        AND t.name = e.name AND t.version = e.latest_version AND t.key = ${p(input.tagKey)}`;
      if (input.tagValue !== undefined) cond += ` AND t.value = ${p(input.tagValue)}`;
      where.push(`${cond})`);
    }
    const rows = await this.#rows(
      `SELECT e.name AS e_name, e.latest_version AS e_latest_version, e.archived AS e_archived,
              e.curated AS e_curated, e.created_at AS e_created_at, e.updated_at AS e_updated_at, v.name, v.version, v.definition_hash, v.definition_blob, v.description, v.tags, v.created_at, v.created_by, v.image_key, (v.lock IS NOT NULL) AS locked
       FROM (SELECT * FROM environments e WHERE ${where.join(" AND ")} ORDER BY e.name LIMIT ${p(input.limit)}) e
       JOIN environment_versions v
         ON v.workspace_id = e.workspace_id AND v.name = e.name AND v.version = e.latest_version
       ORDER BY e.name`,
      params,
    );
    return rows.map((r) => ({ environment: toEnvironment(r, "e_"), latest: toVersionSummary(r) }));
  }

  async setArchived(
    workspaceId: string,
    name: string,
    archived: boolean,
    now: string,
  ): Promise<EnvironmentRecord | null> {
    const [r] = await this.#rows(
      `UPDATE environments SET archived = $1, updated_at = $2
       WHERE workspace_id = $3 AND name = $4 AND latest_version > 0 RETURNING *`,
      [archived, now, workspaceId, name],
    );
    return r ? toEnvironment(r) : null;
  }

  async setLabel(input: {
    workspaceId: string;
    name: string;
    label: string;
    version: number;
    now: string;
  }): Promise<LabelRecord> {
    await this.#pool.query(
      `INSERT INTO environment_labels (workspace_id, name, label, version, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workspace_id, name, label) DO UPDATE SET version = EXCLUDED.version, updated_at = EXCLUDED.updated_at`,
      [input.workspaceId, input.name, input.label, input.version, input.now],
    );
    return { label: input.label, version: input.version, updatedAt: input.now };
  }

  async deleteLabel(workspaceId: string, name: string, label: string): Promise<boolean> {
    const res = await this.#pool.query(
      "DELETE FROM environment_labels WHERE workspace_id = $1 AND name = $2 AND label = $3",
      [workspaceId, name, label],
    );
    return res.rowCount === 1;
  }

  async getLabel(workspaceId: string, name: string, label: string): Promise<LabelRecord | null> {
    const [r] = await this.#rows(
      "SELECT * FROM environment_labels WHERE workspace_id = $1 AND name = $2 AND label = $3",
      [workspaceId, name, label],
    );
    return r ? toLabel(r) : null;
  }

  async listLabels(workspaceId: string, name: string): Promise<LabelRecord[]> {
    return (
      await this.#rows(
        "SELECT * FROM environment_labels WHERE workspace_id = $1 AND name = $2 ORDER BY label",
        [workspaceId, name],
      )
    ).map(toLabel);
  }
}
