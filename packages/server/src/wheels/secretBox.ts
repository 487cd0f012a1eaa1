import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const PREFIX = "mlenv-enc-v1:";

/**
 * Workspace secrets encrypted at rest with AES-256-GCM. The key lives outside the database:
 * the `secretsKey` setting (env `MLENV_SECRETS_KEY`, 32 bytes, base64; several server processes on
 * one PostgreSQL database must share it) or its file, `<dataDir>/secrets.key` by default
 * (generated once, 0600). A value is bound
 * to its workspace and name (the GCM associated data): a row copied elsewhere does not decrypt.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== 32) {
      throw new Error(
        `Expected a secrets key of 32 bytes (base64, e.g. from \`openssl rand -base64 32\`); received ${key.length} bytes`,
      );
    }
    this.#key = Buffer.from(key);
  }

  /** The `key` given (base64), else the one in `file` (created, mode 0600, when missing). */
  static open(options: { file: string; key?: string | undefined }): SecretBox {
    if (options.key) return new SecretBox(Buffer.from(options.key, "base64"));
    const file = options.file;
    if (!existsSync(file)) {
      try {
        writeFileSync(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
        chmodSync(file, 0o600);
      } catch (e) {
        // another process sharing this data dir wrote it first: use theirs
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
    return new SecretBox(Buffer.from(readFileSync(file, "utf8").trim(), "base64"));
  }

  static isSealed(stored: string): boolean {
    return stored.startsWith(PREFIX);
  }

  seal(workspaceId: string, name: string, value: string): string {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", this.#key, iv);
    c.setAAD(Buffer.from(`${workspaceId}\0${name}`, "utf8"));
    const body = Buffer.concat([c.update(value, "utf8"), c.final(), c.getAuthTag()]);
    return `${PREFIX}${iv.toString("base64url")}:${body.toString("base64url")}`;
  }

  /** The plain value; a legacy plaintext row is returned as is. */
  open(workspaceId: string, name: string, stored: string): string {
    if (!SecretBox.isSealed(stored)) return stored;
    const [ivText, bodyText] = stored.slice(PREFIX.length).split(":");
    const iv = Buffer.from(ivText ?? "", "base64url");
    const body = Buffer.from(bodyText ?? "", "base64url");
    if (iv.length !== 12 || body.length < 16) throw new Error(`secret ${name}: malformed encrypted value`);
    const d = createDecipheriv("aes-256-gcm", this.#key, iv);
    d.setAAD(Buffer.from(`${workspaceId}\0${name}`, "utf8"));
    d.setAuthTag(body.subarray(body.length - 16));
    try {
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString("utf8");
    } catch (e) {
      throw new Error(
        `secret ${name} does not decrypt with this server's secrets key (MLENV_SECRETS_KEY or <dataDir>/secrets.key differs from the one that stored it)`,
        { cause: e },
      );
    }
  }
}
