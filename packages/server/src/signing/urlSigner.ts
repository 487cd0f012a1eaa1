import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { HttpError } from "../httpError";

/** Codes of signed-URL errors. Recognise errors by `code`. */
export const SigningErrorCodes = {
  /** The URL lacks `expires`/`sig`, or they are not in the documented form. */
  malformed: "E_SIGNATURE_MALFORMED",
  /** The signature does not match (tampered, or presented for another workspace, blob or file). */
  invalid: "E_SIGNATURE_INVALID",
  /** The URL's `expires` time has passed. */
  expired: "E_SIGNATURE_EXPIRED",
  /** The signing key is too short. */
  keyInvalid: "E_SIGNING_KEY_INVALID",
} as const;

export type SigningErrorCode = (typeof SigningErrorCodes)[keyof typeof SigningErrorCodes];

export class SigningError extends HttpError<SigningErrorCode> {
  override readonly name = "SigningError";
  get status(): number {
    return this.code === SigningErrorCodes.malformed
      ? 400
      : this.code === SigningErrorCodes.keyInvalid
        ? 500
        : 403;
  }
}

/** What a signature covers: one blob, in one workspace, under one file name, until `expires`. */
export interface SignedBlobClaims {
  workspace: string;
  /** Hex SHA-256 of the blob. */
  sha256: string;
  /** File name the blob is served under (the URL's last path segment). */
  filename: string;
  /** Unix time in seconds after which the URL is refused. */
  expires: number;
}

/** Default lifetime of a signed URL: one hour. */
export const DEFAULT_SIGNED_URL_TTL_SECONDS = 3600;
const MIN_KEY_BYTES = 32;
const SCHEME = "mlenv-signed-url-v1";

/** A fresh random signing key (32 bytes, base64url). */
export function generateSigningKey(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * HMAC-SHA256 signer for short-lived blob URLs. The MAC covers a JSON array of the scheme, the
 * workspace, the blob hash, the file name and the expiry, so changing any of them (or moving the
 * URL to another workspace) breaks the signature.
 */
export class UrlSigner {
  private readonly key: Buffer;

  /** @param key at least 32 bytes: raw bytes, or a string (its UTF-8 bytes). */
  constructor(key: Uint8Array | string) {
    this.key = typeof key === "string" ? Buffer.from(key, "utf8") : Buffer.from(key);
    if (this.key.length < MIN_KEY_BYTES) {
      throw new SigningError(
        SigningErrorCodes.keyInvalid,
        `Expected a signing key of at least ${MIN_KEY_BYTES} bytes (e.g. from generateSigningKey()), received ${this.key.length} bytes`,
      );
    }
  }

  private mac(claims: SignedBlobClaims): Buffer {
    const payload = JSON.stringify([
      SCHEME,
      claims.workspace,
      claims.sha256,
      claims.filename,
      claims.expires,
    ]);
    return createHmac("sha256", this.key).update(payload, "utf8").digest();
  }

  /** The `sig` value for these claims (base64url, no padding). */
  sign(claims: SignedBlobClaims): string {
    return this.mac(claims).toString("base64url");
  }

  /**
   * Sign a blob for `ttlSeconds` from `now` (ms since epoch, default `Date.now()`) and return the
   * query string to append (`expires=...&sig=...`) and the expiry.
   */
  signFor(
    claims: Omit<SignedBlobClaims, "expires">,
    options: { ttlSeconds?: number; now?: number } = {},
  ): { query: string; expires: number } {
    const ttl = options.ttlSeconds ?? DEFAULT_SIGNED_URL_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl <= 0) {
      throw new SigningError(
        SigningErrorCodes.malformed,
        `Expected a positive whole number of seconds (e.g. 3600), received ${String(ttl).slice(0, 200)}`,
      );
    }
    const expires = Math.floor((options.now ?? Date.now()) / 1000) + ttl;
    const sig = this.sign({ ...claims, expires });
    return { query: `expires=${expires}&sig=${sig}`, expires };
  }

  /**
   * Check a presented signature. `expires` and `sig` are the raw query values (possibly missing).
   * Throws {@link SigningError}: malformed, invalid (tampered / other workspace / other blob) or expired.
   */
  verify(
    claims: Omit<SignedBlobClaims, "expires">,
    presented: { expires: string | undefined | null; sig: string | undefined | null },
    now: number = Date.now(),
  ): void {
    const { expires, sig } = presented;
    // one spelling per number: a leading zero would give one signature several URLs
    if (!expires || !/^[1-9]\d{0,11}$/.test(expires) || !sig || !/^[A-Za-z0-9_-]{43}$/.test(sig)) {
      throw new SigningError(
        SigningErrorCodes.malformed,
        "Expected a signed URL with ?expires=<unix seconds>&sig=<43 base64url characters> (ask the server for a fresh one with the wheel's url endpoint)",
      );
    }
    const expected = this.mac({ ...claims, expires: Number(expires) });
    const given = Buffer.from(sig, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new SigningError(
        SigningErrorCodes.invalid,
        "Expected a signature issued by this server for this workspace and file, but it does not match (tampered, or used for another workspace or file)",
      );
    }
    if (Math.floor(now / 1000) > Number(expires)) {
      throw new SigningError(
        SigningErrorCodes.expired,
        `Expected an unexpired signed URL, but it expired at ${new Date(Number(expires) * 1000).toISOString()}; ask for a fresh one`,
      );
    }
  }
}

/** True when `e` is a signing error (by shape and code, not only `instanceof`). */
export function isSigningError(e: unknown): e is SigningError {
  if (typeof e !== "object" || e === null) return false;
  const c = (e as { code?: unknown }).code;
  return typeof c === "string" && (Object.values(SigningErrorCodes) as string[]).includes(c);
}

/**
 * A text (a log line, an error message) with the signature of every signed URL in it replaced by
 * `***` (`...?expires=1700000000&sig=***`): whoever reads a run's or service's log cannot fetch
 * the private wheel with it. URL-encoded forms (`sig%3D`) are covered too.
 */
export function redactSignedUrls(text: string): string {
  if (!text.includes("sig")) return text;
  return text.replace(/([?&]|%26|%3F)sig(=|%3D)[A-Za-z0-9_-]+/gi, "$1sig$2***");
}
