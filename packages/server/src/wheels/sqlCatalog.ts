import type { ColumnType } from "kysely";
import { type Database, exec, first, type SqlLocation, useDatabase } from "../store/database";
import { named } from "../store/rows";
import { TableStore } from "../store/tableStore";
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

/** BIGINT columns: PostgreSQL answers them as text. */
type Big = ColumnType<number | string, number, number>;

/** The wheels feature's tables (migrations 0002 and 0012). */
type WheelTables = {
  wheels: {
    workspace_id: string;
    filename: string;
    project: string;
    name: string;
    version: string;
    sha256: string;
    size: Big;
    metadata_sha256: string;
    requires_python: string | null;
    summary: string | null;
    yanked: number;
    yanked_reason: string | null;
    revision: number;
    uploaded_at: string;
    uploaded_by: string;
  };
  wheel_revisions: {
    workspace_id: string;
    filename: string;
    revision: number;
    sha256: string;
    size: Big;
    metadata_sha256: string;
    uploaded_at: string;
    uploaded_by: string;
  };
  workspace_secrets: {
    workspace_id: string;
    name: string;
    value: string;
    created_at: string;
    updated_at: string;
  };
  workspace_secret_hosts: { workspace_id: string; name: string; hosts: string };
};

/** The wheel catalog over SQL (typed queries on the process's database handle); use {@link openWheelCatalog}. */
class SqlWheelCatalog extends TableStore<WheelTables> implements WheelCatalog {
  constructor(
    db: Database,
    private readonly box: SecretBox | null,
    release: () => Promise<void>,
  ) {
    super(db, release);
  }

  /** What is stored for a secret's value: sealed when the catalog has a key. */
  #stored(workspaceId: string, name: string, value: string): string {
    return this.box ? this.box.seal(workspaceId, name, value) : value;
  }

  #wheel(workspaceId: string, filename: string) {
    return this.k
      .selectFrom("wheels")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("filename", "=", filename);
  }

  #secret(workspaceId: string, name: string) {
    return this.k.selectFrom("workspace_secrets").where((eb) => eb.and(named(workspaceId, name)));
  }

  /**
   * Encrypt the secrets an older server stored in plain text (each row once, in place); returns
   * how many. A no-op without a key.
   */
  async sealPlaintextSecrets(): Promise<number> {
    const box = this.box;
    if (!box) return 0;
    const secrets = await this.k
      .selectFrom("workspace_secrets")
      .select(["workspace_id", "name", "value"])
      .execute();
    let n = 0;
    for (const { workspace_id: ws, name, value } of secrets) {
      if (SecretBox.isSealed(value)) continue;
      await this.k
        .updateTable("workspace_secrets")
        .set({ value: box.seal(ws, name, value) })
        .where((eb) => eb.and(named(ws, name)))
        .where("value", "=", value)
        .execute();
      n++;
    }
    return n;
  }

  async get(workspaceId: string, filename: string): Promise<WheelRecord | null> {
    const r = await this.#wheel(workspaceId, filename).executeTakeFirst();
    return r ? toWheel(r) : null;
  }

  async list(workspaceId: string, project?: string): Promise<WheelRecord[]> {
    const found = await this.k
      .selectFrom("wheels")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .$if(project !== undefined, (q) => q.where("project", "=", project ?? ""))
      .orderBy("project")
      .orderBy("filename")
      .execute();
    return found.map(toWheel);
  }

  async projects(workspaceId: string): Promise<string[]> {
    const found = await this.k
      .selectFrom("wheels")
      .select("project")
      .distinct()
      .where("workspace_id", "=", workspaceId)
      .orderBy("project")
      .execute();
    return found.map((r) => r.project);
  }

  async put(input: WheelPutInput): Promise<WheelPutResult> {
    const k = this.k;
    const wheel = () => this.#wheel(input.workspaceId, input.filename);
    return this.db.tx<WheelPutResult>(function* () {
      const cur = yield* first(wheel());
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
      const fields = {
        project: input.project,
        name: input.name,
        version: input.version,
        sha256: input.sha256,
        size: input.size,
        metadata_sha256: input.metadataSha256,
        requires_python: input.requiresPython,
        summary: input.summary,
        yanked: 0,
        yanked_reason: null,
        revision,
        uploaded_at: input.uploadedAt,
        uploaded_by: input.uploadedBy,
      };
      yield* exec(
        existing
          ? k
              .updateTable("wheels")
              .set(fields)
              .where("workspace_id", "=", input.workspaceId)
              .where("filename", "=", input.filename)
          : k
              .insertInto("wheels")
              .values({ workspace_id: input.workspaceId, filename: input.filename, ...fields }),
      );
      yield* exec(
        k.insertInto("wheel_revisions").values({
          workspace_id: input.workspaceId,
          filename: input.filename,
          revision,
          sha256: input.sha256,
          size: input.size,
          metadata_sha256: input.metadataSha256,
          uploaded_at: input.uploadedAt,
          uploaded_by: input.uploadedBy,
        }),
      );
      const row = (yield* first(wheel()))!;
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
      return { status: existing ? "replaced" : "created", wheel: toWheel(row), previous };
    }, `wheel:${input.workspaceId}:${input.filename}`);
  }

  async revisions(workspaceId: string, filename: string): Promise<WheelRevision[]> {
    const found = await this.k
      .selectFrom("wheel_revisions")
      .selectAll()
      .where("workspace_id", "=", workspaceId)
      .where("filename", "=", filename)
      .orderBy("revision")
      .execute();
    return found.map(toRevision);
  }

  async setYanked(input: {
    workspaceId: string;
    filename: string;
    yanked: boolean;
    reason: string | null;
  }): Promise<WheelRecord | null> {
    await this.k
      .updateTable("wheels")
      .set({ yanked: input.yanked ? 1 : 0, yanked_reason: input.yanked ? input.reason : null })
      .where("workspace_id", "=", input.workspaceId)
      .where("filename", "=", input.filename)
      .execute();
    return this.get(input.workspaceId, input.filename);
  }

  async putSecret(input: {
    workspaceId: string;
    name: string;
    value: string;
    now: string;
  }): Promise<SecretInfo> {
    const k = this.k;
    const { workspaceId, name, now } = input;
    const value = this.#stored(workspaceId, name, input.value);
    const current = this.#secret(workspaceId, name).select("created_at");
    return this.db.tx<SecretInfo>(function* () {
      const cur = yield* first(current);
      if (cur) {
        yield* exec(
          k
            .updateTable("workspace_secrets")
            .set({ value, updated_at: now })
            .where((eb) => eb.and(named(workspaceId, name))),
        );
        return { name, createdAt: cur.created_at, updatedAt: now };
      }
      yield* exec(
        k
          .insertInto("workspace_secrets")
          .values({ workspace_id: workspaceId, name, value, created_at: now, updated_at: now }),
      );
      return { name, createdAt: now, updatedAt: now };
    }, `secret:${workspaceId}:${name}`);
  }

  async getSecret(workspaceId: string, name: string): Promise<string | null> {
    const r = await this.#secret(workspaceId, name).select("value").executeTakeFirst();
    if (!r) return null;
    if (this.box) return this.box.open(workspaceId, name, r.value);
    if (SecretBox.isSealed(r.value)) {
      throw new Error(`secret ${name} is encrypted and this catalog was opened without the secrets key`);
    }
    return r.value;
  }

  async listSecrets(workspaceId: string): Promise<SecretInfo[]> {
    const found = await this.k
      .selectFrom("workspace_secrets")
      .select(["name", "created_at", "updated_at"])
      .where("workspace_id", "=", workspaceId)
      .orderBy("name")
      .execute();
    return found.map(toSecretInfo);
  }

  async deleteSecret(workspaceId: string, name: string): Promise<boolean> {
    const k = this.k;
    return this.db.tx(function* () {
      const gone = yield* exec(
        k.deleteFrom("workspace_secrets").where((eb) => eb.and(named(workspaceId, name))),
      );
      return gone === 1;
    }, `secret:${workspaceId}:${name}`);
  }

  #hosts(workspaceId: string, name: string) {
    return this.k.selectFrom("workspace_secret_hosts").where((eb) => eb.and(named(workspaceId, name)));
  }

  async getSecretHosts(workspaceId: string, name: string): Promise<string[]> {
    const r = await this.#hosts(workspaceId, name).select("hosts").executeTakeFirst();
    return r ? (JSON.parse(r.hosts) as string[]) : [];
  }

  async setSecretHosts(workspaceId: string, name: string, hosts: string[]): Promise<void> {
    const k = this.k;
    const row = { workspace_id: workspaceId, name, hosts: JSON.stringify(hosts) };
    await this.db.tx(function* () {
      yield* exec(k.deleteFrom("workspace_secret_hosts").where((eb) => eb.and(named(workspaceId, name))));
      yield* exec(k.insertInto("workspace_secret_hosts").values(row));
    }, `secret-hosts:${workspaceId}:${name}`);
  }
}

/**
 * Open the wheel catalog on the server's database handle (or a location it opens for itself);
 * the migrations of the wheels feature, `0002_wheels` and `0012_secret_hosts`, must have run.
 */
export function openWheelCatalog(
  source: Database | SqlLocation,
  options: { secretBox?: SecretBox } = {},
): WheelCatalog & { sealPlaintextSecrets(): Promise<number> } {
  const { db, release } = useDatabase(source);
  return new SqlWheelCatalog(db, options.secretBox ?? null, release);
}
