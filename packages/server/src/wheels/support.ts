import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateSigningKey, UrlSigner } from "../signing/urlSigner";
import { type Database, sharedDatabase } from "../store/database";
import type { WheelCatalog } from "./catalog";
import { SecretBox } from "./secretBox";
import { openWheelCatalog } from "./sqlCatalog";
import { WheelValidator } from "./wheelValidator";
import type { ZipLimits } from "./zipArchive";

/** What the server passes to `wheelRoutes` besides its store and blobs. */
export interface WheelSupport {
  catalog: WheelCatalog;
  signer: UrlSigner;
  limits?: Partial<ZipLimits>;
  /** Validates uploads in worker threads (its `running` count is a metric). */
  validator: WheelValidator;
  /** Encrypt secrets an older server stored in plain text (at start); returns how many. */
  sealPlaintextSecrets?(): Promise<number>;
  close(): Promise<void>;
}

export interface WheelSupportOptions {
  dataDir: string;
  /** The PostgreSQL URL the store uses; otherwise SQLite at `<dataDir>/mlenv.db`. */
  database?: string | undefined;
  /** The process's database handle (shared by every store); absent: opened from `database`/`dataDir`. */
  db?: Database | undefined;
  /**
   * HMAC key for signed URLs (>= 32 bytes). Default: `<dataDir>/signing-key` (generated once,
   * mode 0600). Several server processes sharing one PostgreSQL database must share the key
   * (setting `signingKey`, env `MLENV_SIGNING_KEY`).
   */
  signingKey?: string | undefined;
  /** Largest wheel accepted, in bytes (default 500 MiB). */
  maxWheelBytes?: number | undefined;
  /** Key workspace secrets are encrypted with (32 bytes, base64); default: read from `secretsKeyFile`. */
  secretsKey?: string | undefined;
  /** File of the secrets key, created when missing (default `<dataDir>/secrets.key`). */
  secretsKeyFile?: string | undefined;
}

function signingKey(options: WheelSupportOptions): string {
  const given = options.signingKey;
  if (given) return given;
  const file = join(options.dataDir, "signing-key");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const key = generateSigningKey();
  try {
    writeFileSync(file, `${key}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    // Another process sharing this data dir wrote it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return readFileSync(file, "utf8").trim();
    throw e;
  }
  chmodSync(file, 0o600);
  return key;
}

/** Open the wheel catalog on the store's database (already migrated) and the URL signer. */
export function openWheelSupport(options: WheelSupportOptions): WheelSupport {
  const signer = new UrlSigner(signingKey(options));
  const maxBytes = options.maxWheelBytes;
  if (maxBytes !== undefined && (!Number.isInteger(maxBytes) || maxBytes <= 0)) {
    throw new Error(
      `Expected maxWheelBytes (MLENV_MAX_WHEEL_BYTES) to be a positive whole number of bytes (e.g. 524288000); received ${String(maxBytes).slice(0, 200)}`,
    );
  }
  // workspace secrets are encrypted at rest with a key outside the database
  const catalog = openWheelCatalog(sharedDatabase(options), {
    secretBox: SecretBox.open({
      file: options.secretsKeyFile ?? join(options.dataDir, "secrets.key"),
      key: options.secretsKey,
    }),
  });
  const validator = new WheelValidator();
  return {
    catalog,
    signer,
    validator,
    ...(maxBytes !== undefined ? { limits: { maxBytes } } : {}),
    sealPlaintextSecrets: () => catalog.sealPlaintextSecrets(),
    close: async () => {
      await validator.close();
      await catalog.close();
    },
  };
}
