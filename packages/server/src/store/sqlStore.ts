import { randomUUID } from "node:crypto";
import { type ColumnType, type CompiledQuery, type Kysely, sql } from "kysely";
import { environmentSummaryJson } from "../environments/view";
import { type Database, exec, first, rows, type StepResult } from "./database";
import { registryMigrations } from "./migrations";
import { appliedMigrations, type Migration, migrate } from "./migrator";
import { PreparedQuery } from "./prepared";
import { listenForRevocations, REVOKED_CHANNEL } from "./revocations";
import {
  named,
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
  VersionSummaryRecord,
  WorkspaceRecord,
} from "./types";

/** BOOLEAN columns: PostgreSQL answers true/false, SQLite 1/0. */
type Bool = ColumnType<boolean | number, boolean, boolean>;

/** The registry's tables (migrations 0001 and 0007). */
type RegistryTables = {
  workspaces: { id: string; name: string; created_at: string };
  api_tokens: {
    id: string;
    workspace_id: string;
    name: string;
    role: string;
    token_hash: string;
    created_at: string;
    revoked_at: string | null;
  };
  environments: {
    workspace_id: string;
    name: string;
    latest_version: number;
    archived: Bool;
    curated: Bool;
    created_at: string;
    updated_at: string;
    /** The list item of the latest version, as JSON (migration 0017); NULL before it was written. */
    summary: ColumnType<string | null, string | null | undefined, string | null>;
  };
  environment_versions: {
    workspace_id: string;
    name: string;
    version: number;
    definition_hash: string;
    definition: string;
    definition_blob: string;
    description: string | null;
    tags: string;
    created_at: string;
    created_by: string;
    lock: string | null;
    image_key: string | null;
  };
  environment_version_tags: {
    workspace_id: string;
    name: string;
    version: number;
    key: string;
    value: string;
  };
  environment_labels: {
    workspace_id: string;
    name: string;
    label: string;
    version: number;
    updated_at: string;
  };
};

/** Which clauses a list query has. */
interface ListShape {
  archived: ListInput["archived"];
  prefix: boolean;
  after: boolean;
  tagKey: boolean;
  tagValue: boolean;
}

/** The update that keeps environment `env`'s list item, from its latest version `latest`, beside it. */
function summaryUpdate(
  k: Kysely<RegistryTables>,
  workspaceId: string,
  env: EnvironmentRecord,
  latest: VersionSummaryRecord,
) {
  return k
    .updateTable("environments")
    .set({ summary: environmentSummaryJson(env, latest) })
    .where((eb) => eb.and(named(workspaceId, env.name)));
}

/**
 * Inside a write's transaction: rewrite the list item kept beside environment `name` from its row
 * and its latest version, both read here (nothing while it has no version). `onlyIfMissing`:
 * leave a written one. A write that has both rows in hand runs {@link summaryUpdate} itself.
 */
function* writeSummary(
  k: Kysely<RegistryTables>,
  workspaceId: string,
  name: string,
  onlyIfMissing = false,
): Generator<CompiledQuery, void, StepResult> {
  const env = yield* first(
    k
      .selectFrom("environments")
      .selectAll()
      .where((eb) => eb.and(named(workspaceId, name))),
  );
  if (!env || Number(env.latest_version) === 0) return;
  const latest = (yield* first(
    k
      .selectFrom("environment_versions")
      .selectAll()
      .where((eb) => eb.and(named(workspaceId, name)))
      .where("version", "=", Number(env.latest_version)),
  ))!;
  yield* exec(
    summaryUpdate(k, workspaceId, toEnvironment(env), toVersionSummary(latest)).$if(onlyIfMissing, (q) =>
      q.where("summary", "is", null),
    ),
  );
}

/** The values a list query binds. */
type ListValues = {
  zero: number;
  workspaceId: string;
  archived: boolean;
  prefix: string;
  prefixEnd: string;
  after: string;
  tagKey: string;
  tagValue: string;
  limit: number;
};

/** An environment's columns beside a version's, prefixed `e_` (see `toEnvironment(row, "e_")`). */
const ENVIRONMENT_COLUMNS = [
  "e.name as e_name",
  "e.latest_version as e_latest_version",
  "e.archived as e_archived",
  "e.curated as e_curated",
  "e.created_at as e_created_at",
  "e.updated_at as e_updated_at",
] as const;

export interface SqlStoreOptions {
  /**
   * What `migrate()` applies: the server's whole list (every feature's tables). Default: the
   * registry's own migrations.
   */
  migrations?: readonly Migration[];
  /** `close()` closes the handle too (it was opened for this store alone). */
  owned?: boolean;
}

/**
 * The registry store, once for both dialects: typed Kysely queries on the process's one
 * {@link Database} handle (SQLite file in WAL mode, or a PostgreSQL pool several server processes
 * may share).
 */
export class SqlStore implements Store {
  readonly kind: "sqlite" | "postgres";
  readonly db: Database;
  readonly #k: Kysely<RegistryTables>;
  readonly #owned: boolean;
  readonly #migrations: readonly Migration[];
  readonly watchRevocations?: Store["watchRevocations"];

  constructor(db: Database, options: SqlStoreOptions = {}) {
    this.db = db;
    this.kind = db.dialect;
    this.#k = db.kysely.withTables<RegistryTables>() as unknown as Kysely<RegistryTables>;
    this.#owned = options.owned ?? false;
    this.#migrations = options.migrations ?? registryMigrations;
    const url = db.postgresUrl;
    // Only a database several processes share tells each one about the others' revocations.
    if (url !== undefined) {
      this.watchRevocations = (onRevoked, onResumed) => listenForRevocations(url, onRevoked, onResumed);
    }
  }

  migrate(): Promise<void> {
    return migrate(this.db, this.#migrations);
  }

  async ping(): Promise<void> {
    await this.db.all("SELECT 1");
  }

  async optimize(): Promise<void> {
    await this.db.all("ANALYZE");
  }

  appliedMigrations(): Promise<string[]> {
    return appliedMigrations(this.db);
  }

  async close(): Promise<void> {
    if (this.#owned) await this.db.close();
  }

  async createWorkspace(
    name: string,
    now: string,
    admin?: { name: string; tokenHash: string },
  ): Promise<WorkspaceRecord> {
    const k = this.#k;
    const id = randomUUID();
    await this.db.tx(function* () {
      yield* exec(k.insertInto("workspaces").values({ id, name, created_at: now }));
      if (admin) {
        yield* exec(
          k.insertInto("api_tokens").values({
            id: randomUUID(),
            workspace_id: id,
            name: admin.name,
            role: "admin",
            token_hash: admin.tokenHash,
            created_at: now,
          }),
        );
      }
    });
    return { id, name, createdAt: now };
  }

  async getWorkspace(name: string): Promise<WorkspaceRecord | null> {
    const r = await this.#k.selectFrom("workspaces").selectAll().where("name", "=", name).executeTakeFirst();
    return r ? toWorkspace(r) : null;
  }

  async listWorkspaces(): Promise<WorkspaceRecord[]> {
    return (await this.#k.selectFrom("workspaces").selectAll().orderBy("name").execute()).map(toWorkspace);
  }

  async createToken(input: {
    workspaceId: string;
    name: string;
    role: Role;
    tokenHash: string;
    now: string;
  }): Promise<TokenRecord> {
    const id = randomUUID();
    await this.#k
      .insertInto("api_tokens")
      .values({
        id,
        workspace_id: input.workspaceId,
        name: input.name,
        role: input.role,
        token_hash: input.tokenHash,
        created_at: input.now,
      })
      .execute();
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
    const r = await this.#k
      .selectFrom("api_tokens as t")
      .innerJoin("workspaces as w", "w.id", "t.workspace_id")
      .selectAll("t")
      .select("w.name as workspace_name")
      .where("t.token_hash", "=", tokenHash)
      .where("t.revoked_at", "is", null)
      .executeTakeFirst();
    return r ? { ...toToken(r), workspaceName: r.workspace_name } : null;
  }

  async listTokens(workspaceId: string): Promise<TokenRecord[]> {
    const found = await this.#k
      .selectFrom("api_tokens")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("revoked_at", "is", null)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return found.map(toToken);
  }

  async revokeToken(workspaceId: string, id: string, now: string): Promise<boolean> {
    const k = this.#k;
    const notify = this.kind === "postgres";
    return this.db.tx(function* () {
      const revoked = yield* rows(
        k
          .updateTable("api_tokens")
          .set({ revoked_at: now })
          .where("workspace_id", "=", workspaceId)
          .where("id", "=", id)
          .where("revoked_at", "is", null)
          .returning("token_hash"),
      );
      // Sent on commit, to every server process listening on this database.
      for (const r of notify ? revoked : [])
        yield* exec(sql`SELECT pg_notify(${REVOKED_CHANNEL}, ${r.token_hash})`.compile(k));
      return revoked.length === 1;
    });
  }

  async register(input: RegisterInput): Promise<RegisterResult> {
    const k = this.#k;
    const { workspaceId: ws, name } = input;
    const lockRow = this.kind === "postgres";
    const versionRow = (version: number) =>
      k
        .selectFrom("environment_versions")
        .selectAll()
        .where((eb) => eb.and(named(ws, name)))
        .where("version", "=", version);
    return this.db.tx<RegisterResult>(function* () {
      // Create the name row if absent (latest_version 0: no version yet), then lock it: concurrent
      // registers of one name (from any process) queue here, so each sees the committed
      // latest_version of the one before. SQLite's BEGIN IMMEDIATE already serialises writers.
      yield* exec(
        k
          .insertInto("environments")
          .values({
            workspace_id: ws,
            name,
            latest_version: 0,
            archived: false,
            curated: input.curated,
            created_at: input.now,
            updated_at: input.now,
          })
          .onConflict((oc) => oc.columns(["workspace_id", "name"]).doNothing()),
      );
      const env = (yield* first(
        k
          .selectFrom("environments")
          .selectAll()
          .where((eb) => eb.and(named(ws, name)))
          .$if(lockRow, (q) => q.forUpdate()),
      ))!;
      if (input.onlyIfNew && Number(env.latest_version) > 0) {
        const latest = (yield* first(versionRow(Number(env.latest_version))))!;
        return { created: false, environment: toEnvironment(env), version: toVersion(latest) };
      }
      const same = yield* first(
        k
          .selectFrom("environment_versions")
          .selectAll()
          .where((eb) => eb.and(named(ws, name)))
          .where("definition_hash", "=", input.definitionHash),
      );
      if (same) {
        if (same.lock !== null || (input.lockJson ?? null) === null)
          return { created: false, environment: toEnvironment(env), version: toVersion(same) };
        const attached = (yield* first(
          k
            .updateTable("environment_versions")
            .set({ lock: input.lockJson ?? null, image_key: input.imageKey ?? null })
            .where((eb) => eb.and(named(ws, name)))
            .where("version", "=", same.version)
            .returningAll(),
        ))!;
        if (same.version === Number(env.latest_version))
          yield* exec(summaryUpdate(k, ws, toEnvironment(env), toVersionSummary(attached)));
        return {
          created: false,
          lockAttached: true,
          environment: toEnvironment(env),
          version: toVersion(attached),
        };
      }
      const version = Number(env.latest_version) + 1;
      const envAfter = (yield* first(
        k
          .updateTable("environments")
          .set({ latest_version: version, updated_at: input.now })
          .where((eb) => eb.and(named(ws, name)))
          .returningAll(),
      ))!;
      const row = (yield* first(
        k
          .insertInto("environment_versions")
          .values({
            workspace_id: ws,
            name,
            version,
            definition_hash: input.definitionHash,
            definition: input.definitionJson,
            definition_blob: input.definitionBlob,
            description: input.description,
            tags: tagsJson(input.tags),
            created_at: input.now,
            created_by: input.createdBy,
            lock: input.lockJson ?? null,
            image_key: input.imageKey ?? null,
          })
          .returningAll(),
      ))!;
      const tags = Object.entries(input.tags).map(([key, value]) => ({
        workspace_id: ws,
        name,
        version,
        key,
        value,
      }));
      if (tags.length > 0) yield* exec(k.insertInto("environment_version_tags").values(tags));
      yield* exec(summaryUpdate(k, ws, toEnvironment(envAfter), toVersionSummary(row)));
      return { created: true, environment: toEnvironment(envAfter), version: toVersion(row) };
    });
  }

  /** Environments with at least one version (a name row a register is creating has none yet). */
  #environments() {
    return this.#k.selectFrom("environments as e").where("e.latest_version", ">", 0);
  }

  async getEnvironment(workspaceId: string, name: string): Promise<EnvironmentRecord | null> {
    const r = await this.#environments()
      .selectAll("e")
      .where("e.workspace_id", "=", workspaceId)
      .where("e.name", "=", name)
      .executeTakeFirst();
    return r ? toEnvironment(r) : null;
  }

  /**
   * The environment, the version asked for (latest, a number, or a label's) and its labels: one
   * row per label at that version (one with a NULL label when it has none). Compiled once per kind
   * of `which`: the registry's hottest read.
   */
  readonly #resolve = new PreparedQuery(
    (
      by: "latest" | "version" | "label",
      v: { zero: number; workspaceId: string; name: string; version: number; label: string },
    ) =>
      this.#k
        .selectFrom("environments as e")
        .where("e.latest_version", ">", v.zero)
        .$if(by === "label", (q) =>
          q.leftJoin("environment_labels as lb", (j) =>
            j
              .onRef("lb.workspace_id", "=", "e.workspace_id")
              .onRef("lb.name", "=", "e.name")
              .on("lb.label", "=", v.label),
          ),
        )
        .leftJoin("environment_versions as v", (j) => {
          const on = j.onRef("v.workspace_id", "=", "e.workspace_id").onRef("v.name", "=", "e.name");
          if (by === "label") return on.on("v.version", "=", sql.ref<number>("lb.version"));
          if (by === "version") return on.on("v.version", "=", v.version);
          return on.onRef("v.version", "=", "e.latest_version");
        })
        .leftJoin("environment_labels as x", (j) =>
          j
            .onRef("x.workspace_id", "=", "e.workspace_id")
            .onRef("x.name", "=", "e.name")
            .onRef("x.version", "=", "v.version"),
        )
        .select([...ENVIRONMENT_COLUMNS, "x.label as at_label"])
        .selectAll("v")
        .where("e.workspace_id", "=", v.workspaceId)
        .where("e.name", "=", v.name)
        .orderBy("x.label"),
    (by) => by,
  );

  async resolve(
    workspaceId: string,
    name: string,
    which: { version?: number | undefined; label?: string | undefined },
  ): Promise<Resolved | null> {
    const by = which.label !== undefined ? "label" : which.version !== undefined ? "version" : "latest";
    const { rows: found } = await this.#k.executeQuery(
      this.#resolve.bind(by, {
        zero: 0,
        workspaceId,
        name,
        version: which.version ?? 0,
        label: which.label ?? "",
      }),
    );
    const r = found[0];
    if (!r) return null;
    return {
      environment: toEnvironment(r, "e_"),
      version: r.version === null ? null : toVersion(r),
      labels: found.flatMap((x) => (x.at_label === null ? [] : [x.at_label])),
    };
  }

  #versions(workspaceId: string, name: string) {
    return this.#k
      .selectFrom("environment_versions")
      .selectAll()
      .where((eb) => eb.and(named(workspaceId, name)));
  }

  async getVersion(workspaceId: string, name: string, version: number): Promise<VersionRecord | null> {
    const r = await this.#versions(workspaceId, name).where("version", "=", version).executeTakeFirst();
    return r ? toVersion(r) : null;
  }

  async definitionBlobInUse(digest: string): Promise<boolean> {
    const r = await this.#k
      .selectFrom("environment_versions")
      .select("version")
      .where("definition_blob", "=", digest)
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  async listVersions(workspaceId: string, name: string): Promise<VersionRecord[]> {
    return (await this.#versions(workspaceId, name).orderBy("version").execute()).map(toVersion);
  }

  /**
   * A page of environments by name after a keyset cursor, each with its latest version, in one
   * query: a range scan of `environments_list` (workspace, archived, name) or the primary key,
   * joined to each latest version by its primary key (no OFFSET, no count, nothing per row).
   * Compiled once per combination of filters.
   */
  readonly #list = new PreparedQuery(
    (shape: ListShape, v: ListValues) =>
      // One range of the environments_list index, each row's list item read as it is kept
      // (written with every change of the environment or its latest version): nothing joined.
      this.#k
        .selectFrom("environments as e")
        .select(["e.name", "e.summary"])
        .where("e.latest_version", ">", v.zero)
        .where("e.workspace_id", "=", v.workspaceId)
        .$if(shape.archived !== "include", (q) => q.where("e.archived", "=", v.archived))
        // names starting with the prefix, as a range both backends compare by bytes (UTF-8
        // orders like code points; the end is the prefix and U+10FFFF, the largest)
        .$if(shape.prefix, (q) => q.where("e.name", ">=", v.prefix).where("e.name", "<", v.prefixEnd))
        .$if(shape.after, (q) => q.where("e.name", ">", v.after))
        .$if(shape.tagKey, (q) =>
          q.where(({ exists, selectFrom }) =>
            exists(
              selectFrom("environment_version_tags as t")
                .select(sql.lit(1).as("one"))
                .whereRef("t.workspace_id", "=", "e.workspace_id")
                .whereRef("t.name", "=", "e.name")
                .whereRef("t.version", "=", "e.latest_version")
                .where("t.key", "=", v.tagKey)
                .$if(shape.tagValue, (s) => s.where("t.value", "=", v.tagValue)),
            ),
          ),
        )
        .orderBy("e.name")
        .limit(v.limit),
    (shape) => `${shape.archived} ${shape.prefix} ${shape.after} ${shape.tagKey} ${shape.tagValue}`,
  );

  async listEnvironments(input: ListInput): Promise<ListedEnvironment[]> {
    const { prefix = "", after = "", tagKey = "", tagValue = "" } = input;
    const shape: ListShape = {
      archived: input.archived,
      prefix: prefix !== "",
      after: input.after !== undefined,
      tagKey: input.tagKey !== undefined,
      tagValue: input.tagKey !== undefined && input.tagValue !== undefined,
    };
    const { rows: found } = await this.#k.executeQuery(
      this.#list.bind(shape, {
        zero: 0,
        workspaceId: input.workspaceId,
        archived: input.archived === "only",
        prefix,
        prefixEnd: `${prefix}\u{10FFFF}`,
        after,
        tagKey,
        tagValue,
        limit: input.limit,
      }),
    );
    const out: ListedEnvironment[] = [];
    for (const r of found) {
      // written before migration 0017: made now, once (a concurrent write's own stays)
      const summaryJson = r.summary ?? (await this.#missingSummary(input.workspaceId, r.name));
      if (summaryJson !== null) out.push({ name: r.name, summaryJson });
    }
    return out;
  }

  #missingSummary(workspaceId: string, name: string): Promise<string | null> {
    const k = this.#k;
    return this.db.tx(function* () {
      yield* writeSummary(k, workspaceId, name, true);
      const r = yield* first(
        k
          .selectFrom("environments")
          .select("summary")
          .where((eb) => eb.and(named(workspaceId, name))),
      );
      return r?.summary ?? null;
    });
  }

  async setArchived(
    workspaceId: string,
    name: string,
    archived: boolean,
    now: string,
  ): Promise<EnvironmentRecord | null> {
    const k = this.#k;
    return this.db.tx(function* () {
      const r = yield* first(
        k
          .updateTable("environments")
          .set({ archived, updated_at: now })
          .where((eb) => eb.and(named(workspaceId, name)))
          .where("latest_version", ">", 0)
          .returningAll(),
      );
      if (!r) return null;
      yield* writeSummary(k, workspaceId, name);
      return toEnvironment(r);
    });
  }

  async setLabel(input: {
    workspaceId: string;
    name: string;
    label: string;
    version: number;
    now: string;
  }): Promise<LabelRecord> {
    await this.#k
      .insertInto("environment_labels")
      .values({
        workspace_id: input.workspaceId,
        name: input.name,
        label: input.label,
        version: input.version,
        updated_at: input.now,
      })
      .onConflict((oc) =>
        oc.columns(["workspace_id", "name", "label"]).doUpdateSet((eb) => ({
          version: eb.ref("excluded.version"),
          updated_at: eb.ref("excluded.updated_at"),
        })),
      )
      .execute();
    return { label: input.label, version: input.version, updatedAt: input.now };
  }

  #labels(workspaceId: string, name: string) {
    return this.#k.selectFrom("environment_labels").where((eb) => eb.and(named(workspaceId, name)));
  }

  async deleteLabel(workspaceId: string, name: string, label: string): Promise<boolean> {
    const res = await this.#k
      .deleteFrom("environment_labels")
      .where((eb) => eb.and(named(workspaceId, name)))
      .where("label", "=", label)
      .executeTakeFirst();
    return res.numDeletedRows === 1n;
  }

  async getLabel(workspaceId: string, name: string, label: string): Promise<LabelRecord | null> {
    const r = await this.#labels(workspaceId, name).selectAll().where("label", "=", label).executeTakeFirst();
    return r ? toLabel(r) : null;
  }

  async listLabels(workspaceId: string, name: string): Promise<LabelRecord[]> {
    return (await this.#labels(workspaceId, name).selectAll().orderBy("label").execute()).map(toLabel);
  }
}
