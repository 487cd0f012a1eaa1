import { type Database, exec, rows, type SqlLocation, useDatabase } from "../store/database";
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

/** The wheel catalog over SQL; use {@link openWheelCatalog}. */
class SqlWheelCatalog implements WheelCatalog {
  constructor(
    private readonly db: Database,
    private readonly box: SecretBox | null,
    /** Closes the handle when the catalog opened it for itself. */
    private readonly release: () => Promise<void>,
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
    const db = this.db;
    return db.tx(function* () {
      const [cur] = yield* rows<Row>(
        db.raw("SELECT * FROM wheels WHERE workspace_id = ? AND filename = ?", [
          input.workspaceId,
          input.filename,
        ]),
      );
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
        yield* exec(
          db.raw(
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
          ),
        );
      } else {
        yield* exec(
          db.raw(
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
          ),
        );
      }
      yield* exec(
        db.raw(
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
        ),
      );
      const [row] = yield* rows<Row>(
        db.raw("SELECT * FROM wheels WHERE workspace_id = ? AND filename = ?", [
          input.workspaceId,
          input.filename,
        ]),
      );
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
    }, `wheel:${input.workspaceId}:${input.filename}`);
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
    const db = this.db;
    return db.tx(function* () {
      const [cur] = yield* rows<Row>(
        db.raw("SELECT created_at FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [
          input.workspaceId,
          input.name,
        ]),
      );
      if (cur) {
        yield* exec(
          db.raw(
            "UPDATE workspace_secrets SET value = ?, updated_at = ? WHERE workspace_id = ? AND name = ?",
            [stored, input.now, input.workspaceId, input.name],
          ),
        );
        return { name: input.name, createdAt: String(cur.created_at), updatedAt: input.now };
      }
      yield* exec(
        db.raw(
          "INSERT INTO workspace_secrets (workspace_id, name, value, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
          [input.workspaceId, input.name, stored, input.now, input.now],
        ),
      );
      return { name: input.name, createdAt: input.now, updatedAt: input.now };
    }, `secret:${input.workspaceId}:${input.name}`);
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
    const db = this.db;
    return db.tx(function* () {
      const [r] = yield* rows<Row>(
        db.raw("SELECT name FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [workspaceId, name]),
      );
      if (!r) return false;
      yield* exec(
        db.raw("DELETE FROM workspace_secrets WHERE workspace_id = ? AND name = ?", [workspaceId, name]),
      );
      return true;
    }, `secret:${workspaceId}:${name}`);
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
    const db = this.db;
    await db.tx(function* () {
      yield* exec(
        db.raw("DELETE FROM workspace_secret_hosts WHERE workspace_id = ? AND name = ?", [workspaceId, name]),
      );
      yield* exec(
        db.raw("INSERT INTO workspace_secret_hosts (workspace_id, name, hosts) VALUES (?, ?, ?)", [
          workspaceId,
          name,
          json,
        ]),
      );
      return undefined;
    }, `secret-hosts:${workspaceId}:${name}`);
  }

  close(): Promise<void> {
    return this.release();
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
