import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { migrations } from "./migrations";
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

const RESOLVE_SQL = `
SELECT e.name AS e_name, e.latest_version AS e_latest_version, e.archived AS e_archived,
       e.curated AS e_curated, e.created_at AS e_created_at, e.updated_at AS e_updated_at, v.*,
       (SELECT group_concat(label, ',') FROM (SELECT label FROM environment_labels x
          WHERE x.workspace_id = e.workspace_id AND x.name = e.name AND x.version = v.version ORDER BY label)) AS labels
FROM environments e
LEFT JOIN environment_labels lb ON lb.workspace_id = e.workspace_id AND lb.name = e.name AND lb.label = ?
LEFT JOIN environment_versions v ON v.workspace_id = e.workspace_id AND v.name = e.name
  AND v.version = (CASE WHEN ? IS NOT NULL THEN lb.version ELSE COALESCE(?, e.latest_version) END)
WHERE e.workspace_id = ? AND e.name = ?`;

/** The embedded default backend: one SQLite file in WAL mode (better-sqlite3). */
export class SqliteStore implements Store {
  readonly kind = "sqlite" as const;
  readonly #db: Database.Database;

  constructor(file: string) {
    this.#db = new Database(file);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = NORMAL");
    this.#db.pragma("foreign_keys = ON");
    this.#db.pragma("busy_timeout = 5000");
    // Reads dominate: map the file (no read syscalls per page) and keep a 64 MiB page cache
    // instead of the 2 MiB default, so a registry of tens of thousands of versions stays hot.
    this.#db.pragma("mmap_size = 268435456");
    this.#db.pragma("cache_size = -65536");
  }

  async migrate(): Promise<void> {
    const db = this.#db;
    db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT NOT NULL)");
    db.transaction(() => {
      const done = new Set(
        (db.prepare("SELECT id FROM schema_migrations").all() as Row[]).map((r) => String(r.id)),
      );
      for (const m of migrations) {
        if (done.has(m.id)) continue;
        db.exec(m.sqlite);
        db.prepare("INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)").run(
          m.id,
          new Date().toISOString(),
        );
      }
    }).immediate();
  }

  async ping(): Promise<void> {
    this.#prep("SELECT 1").get();
  }

  async optimize(): Promise<void> {
    this.#db.exec("ANALYZE");
  }

  async appliedMigrations(): Promise<string[]> {
    return (this.#db.prepare("SELECT id FROM schema_migrations ORDER BY id").all() as Row[]).map((r) =>
      String(r.id),
    );
  }

  async close(): Promise<void> {
    this.#db.close();
  }

  readonly #stmts = new Map<string, Database.Statement>();

  /** A cached prepared statement. */
  #prep(sql: string): Database.Statement {
    let st = this.#stmts.get(sql);
    if (!st) {
      st = this.#db.prepare(sql);
      this.#stmts.set(sql, st);
    }
    return st;
  }

  #get(sql: string, ...params: unknown[]): Row | undefined {
    return this.#prep(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: unknown[]): Row[] {
    return this.#prep(sql).all(...params) as Row[];
  }

  async createWorkspace(
    name: string,
    now: string,
    admin?: { name: string; tokenHash: string },
  ): Promise<WorkspaceRecord> {
    const id = randomUUID();
    this.#db.transaction(() => {
      this.#prep("INSERT INTO workspaces (id, name, created_at) VALUES (?, ?, ?)").run(id, name, now);
      if (admin) {
        this.#prep(
          "INSERT INTO api_tokens (id, workspace_id, name, role, token_hash, created_at) VALUES (?, ?, ?, 'admin', ?, ?)",
        ).run(randomUUID(), id, admin.name, admin.tokenHash, now);
      }
    })();
    return { id, name, createdAt: now };
  }

  async getWorkspace(name: string): Promise<WorkspaceRecord | null> {
    const r = this.#get("SELECT * FROM workspaces WHERE name = ?", name);
    return r ? toWorkspace(r) : null;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return this.#all("SELECT * FROM workspaces ORDER BY name").map(toWorkspace);
  }

  async createToken(input: {
    workspaceId: string;
    name: string;
    role: Role;
    tokenHash: string;
    now: string;
  }): Promise<TokenRecord> {
    const id = randomUUID();
    this.#prep(
      "INSERT INTO api_tokens (id, workspace_id, name, role, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    ).run(id, input.workspaceId, input.name, input.role, input.tokenHash, input.now);
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
    const r = this.#get(
      `SELECT t.*, w.name AS workspace_name FROM api_tokens t JOIN workspaces w ON w.id = t.workspace_id
       WHERE t.token_hash = ? AND t.revoked_at IS NULL`,
      tokenHash,
    );
    return r ? { ...toToken(r), workspaceName: String(r.workspace_name) } : null;
  }

  async listTokens(workspaceId: string): Promise<TokenRecord[]> {
    return this.#all(
      "SELECT * FROM api_tokens WHERE workspace_id = ? AND revoked_at IS NULL ORDER BY created_at, id",
      workspaceId,
    ).map(toToken);
  }

  async revokeToken(workspaceId: string, id: string, now: string): Promise<boolean> {
    const res = this.#prep(
      "UPDATE api_tokens SET revoked_at = ? WHERE workspace_id = ? AND id = ? AND revoked_at IS NULL",
    ).run(now, workspaceId, id);
    return res.changes === 1;
  }

  async register(input: RegisterInput): Promise<RegisterResult> {
    const db = this.#db;
    const run = db.transaction((): RegisterResult => {
      const same = this.#get(
        "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? AND definition_hash = ?",
        input.workspaceId,
        input.name,
        input.definitionHash,
      );
      const envRow = this.#get(
        "SELECT * FROM environments WHERE workspace_id = ? AND name = ?",
        input.workspaceId,
        input.name,
      );
      if (input.onlyIfNew && envRow) {
        const latest = this.#get(
          "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? AND version = ?",
          input.workspaceId,
          input.name,
          envRow.latest_version,
        )!;
        return { created: false, environment: toEnvironment(envRow), version: toVersion(latest) };
      }
      if (same && envRow) {
        if (same.lock !== null || (input.lockJson ?? null) === null)
          return { created: false, environment: toEnvironment(envRow), version: toVersion(same) };
        this.#prep(
          "UPDATE environment_versions SET lock = ?, image_key = ? WHERE workspace_id = ? AND name = ? AND version = ?",
        ).run(input.lockJson, input.imageKey ?? null, input.workspaceId, input.name, same.version);
        const attached = this.#get(
          "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? AND version = ?",
          input.workspaceId,
          input.name,
          same.version,
        )!;
        return {
          created: false,
          lockAttached: true,
          environment: toEnvironment(envRow),
          version: toVersion(attached),
        };
      }
      let version: number;
      if (envRow) {
        version = Number(envRow.latest_version) + 1;
        this.#prep(
          "UPDATE environments SET latest_version = ?, updated_at = ? WHERE workspace_id = ? AND name = ?",
        ).run(version, input.now, input.workspaceId, input.name);
      } else {
        version = 1;
        this.#prep(
          `INSERT INTO environments (workspace_id, name, latest_version, archived, curated, created_at, updated_at)
           VALUES (?, ?, 1, 0, ?, ?, ?)`,
        ).run(input.workspaceId, input.name, input.curated ? 1 : 0, input.now, input.now);
      }
      const tags = tagsJson(input.tags);
      this.#prep(
        `INSERT INTO environment_versions (workspace_id, name, version, definition_hash, definition,
           definition_blob, description, tags, created_at, created_by, lock, image_key)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        input.workspaceId,
        input.name,
        version,
        input.definitionHash,
        input.definitionJson,
        input.definitionBlob,
        input.description,
        tags,
        input.now,
        input.createdBy,
        input.lockJson ?? null,
        input.imageKey ?? null,
      );
      const tagStmt = this.#prep(
        "INSERT INTO environment_version_tags (workspace_id, name, version, key, value) VALUES (?, ?, ?, ?, ?)",
      );
      for (const [k, v] of Object.entries(input.tags))
        tagStmt.run(input.workspaceId, input.name, version, k, v);
      const env = this.#get(
        "SELECT * FROM environments WHERE workspace_id = ? AND name = ?",
        input.workspaceId,
        input.name,
      )!;
      const row = this.#get(
        "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? AND version = ?",
        input.workspaceId,
        input.name,
        version,
      )!;
      return { created: true, environment: toEnvironment(env), version: toVersion(row) };
    });
    // IMMEDIATE takes the write lock up front, so other processes wait instead of racing.
    return run.immediate();
  }

  async getEnvironment(workspaceId: string, name: string): Promise<EnvironmentRecord | null> {
    const r = this.#get("SELECT * FROM environments WHERE workspace_id = ? AND name = ?", workspaceId, name);
    return r ? toEnvironment(r) : null;
  }

  async resolve(
    workspaceId: string,
    name: string,
    which: { version?: number | undefined; label?: string | undefined },
  ): Promise<Resolved | null> {
    const label = which.label ?? null;
    const r = this.#get(RESOLVE_SQL, label, label, which.version ?? null, workspaceId, name);
    if (!r) return null;
    return {
      environment: toEnvironment(r, "e_"),
      version: r.version === null ? null : toVersion(r),
      labels: r.labels ? String(r.labels).split(",") : [],
    };
  }

  async getVersion(workspaceId: string, name: string, version: number): Promise<VersionRecord | null> {
    const r = this.#get(
      "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? AND version = ?",
      workspaceId,
      name,
      version,
    );
    return r ? toVersion(r) : null;
  }

  async listVersions(workspaceId: string, name: string): Promise<VersionRecord[]> {
    return this.#all(
      "SELECT * FROM environment_versions WHERE workspace_id = ? AND name = ? ORDER BY version",
      workspaceId,
      name,
    ).map(toVersion);
  }

  async listEnvironments(input: ListInput): Promise<ListedEnvironment[]> {
    const where: string[] = ["e.workspace_id = ?"];
    const params: unknown[] = [input.workspaceId];
    if (input.archived === "exclude") where.push("e.archived = 0");
    if (input.archived === "only") where.push("e.archived = 1");
    if (input.prefix) {
      where.push("substr(e.name, 1, ?) = ?");
      params.push(charLength(input.prefix), input.prefix);
    }
    if (input.after !== undefined) {
      where.push("e.name > ?");
      params.push(input.after);
    }
    if (input.tagKey !== undefined) {
      let cond =
        "EXISTS (SELECT 1 FROM environment_version_tags t WHERE t.workspace_id = e.workspace_id AND t.name = e.name AND t.version = e.latest_version AND t.key = ?";
      params.push(input.tagKey);
      if (input.tagValue !== undefined) {
        cond += " AND t.value = ?";
        params.push(input.tagValue);
      }
      where.push(`${cond})`);
    }
    params.push(input.limit);
    const rows = this.#all(
      `SELECT e.name AS e_name, e.latest_version AS e_latest_version, e.archived AS e_archived,
              e.curated AS e_curated, e.created_at AS e_created_at, e.updated_at AS e_updated_at, v.name, v.version, v.definition_hash, v.definition_blob, v.description, v.tags, v.created_at, v.created_by, v.image_key, (v.lock IS NOT NULL) AS locked
       FROM (SELECT * FROM environments e WHERE ${where.join(" AND ")} ORDER BY e.name LIMIT ?) e
       JOIN environment_versions v
         ON v.workspace_id = e.workspace_id AND v.name = e.name AND v.version = e.latest_version
       ORDER BY e.name`,
      ...params,
    );
    return rows.map((r) => ({ environment: toEnvironment(r, "e_"), latest: toVersionSummary(r) }));
  }

  async setArchived(
    workspaceId: string,
    name: string,
    archived: boolean,
    now: string,
  ): Promise<EnvironmentRecord | null> {
    this.#prep(
      "UPDATE environments SET archived = ?, updated_at = ? WHERE workspace_id = ? AND name = ?",
    ).run(archived ? 1 : 0, now, workspaceId, name);
    return this.getEnvironment(workspaceId, name);
  }

  async setLabel(input: {
    workspaceId: string;
    name: string;
    label: string;
    version: number;
    now: string;
  }): Promise<LabelRecord> {
    this.#prep(
      `INSERT INTO environment_labels (workspace_id, name, label, version, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (workspace_id, name, label) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at`,
    ).run(input.workspaceId, input.name, input.label, input.version, input.now);
    return { label: input.label, version: input.version, updatedAt: input.now };
  }

  async deleteLabel(workspaceId: string, name: string, label: string): Promise<boolean> {
    const res = this.#prep(
      "DELETE FROM environment_labels WHERE workspace_id = ? AND name = ? AND label = ?",
    ).run(workspaceId, name, label);
    return res.changes === 1;
  }

  async getLabel(workspaceId: string, name: string, label: string): Promise<LabelRecord | null> {
    const r = this.#get(
      "SELECT * FROM environment_labels WHERE workspace_id = ? AND name = ? AND label = ?",
      workspaceId,
      name,
      label,
    );
    return r ? toLabel(r) : null;
  }

  async listLabels(workspaceId: string, name: string): Promise<LabelRecord[]> {
    return this.#all(
      "SELECT * FROM environment_labels WHERE workspace_id = ? AND name = ? ORDER BY label",
      workspaceId,
      name,
    ).map(toLabel);
  }
}
