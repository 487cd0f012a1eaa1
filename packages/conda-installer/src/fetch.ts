import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { fileURLToPath } from "node:url";
import { CondaInstallError, CondaInstallErrorCode, redactUrl } from "./errors";

/** How package files are fetched. */
export interface FetchOptions {
  /**
   * Extra request headers for a URL, e.g. `Authorization` for a private channel from the
   * workspace's secrets. Credentials in the URL itself (`https://user:token@host/...`) are sent
   * as HTTP Basic auth.
   */
  headers?: (url: URL) => Record<string, string> | undefined;
  /** Called as bytes arrive. */
  onBytes?: (bytes: number) => void;
  /** Socket idle timeout in milliseconds (default 60 s). */
  timeoutMs?: number;
}

function fail(url: string, label: string, why: string, cause?: unknown): CondaInstallError {
  return new CondaInstallError(
    CondaInstallErrorCode.FETCH_FAILED,
    `${label}: could not fetch ${redactUrl(url)}: ${why}`,
    { package: label, ...(cause === undefined ? {} : { cause }) },
  );
}

function get(url: URL, options: FetchOptions, label: string, redirects: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(options.headers?.(url) ?? {}) };
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      headers.authorization ??= `Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
    }
    const target = new URL(url.href);
    target.username = "";
    target.password = "";
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      target,
      { method: "GET", headers, timeout: options.timeoutMs ?? 60_000 },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location) {
          res.resume();
          if (redirects <= 0) return reject(fail(url.href, label, "too many redirects"));
          const next = new URL(location, target);
          // credentials go only to the host that was named with them
          if (next.host === url.host) {
            next.username = url.username;
            next.password = url.password;
          }
          get(
            next,
            next.host === url.host ? options : { ...options, headers: () => undefined },
            label,
            redirects - 1,
          ).then(resolve, reject);
          return;
        }
        if (status !== 200) {
          res.resume();
          reject(fail(url.href, label, `HTTP ${status} (expected 200)`));
          return;
        }
        const declared = Number(res.headers["content-length"]);
        const chunks: Buffer[] = [];
        let received = 0;
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          received += c.length;
          options.onBytes?.(c.length);
        });
        res.on("error", (e) => reject(fail(url.href, label, e.message, e)));
        res.on("aborted", () => reject(fail(url.href, label, "the connection closed mid-body")));
        res.on("end", () => {
          if (Number.isSafeInteger(declared) && received !== declared) {
            reject(fail(url.href, label, `received ${received} of ${declared} bytes (truncated)`));
            return;
          }
          resolve(Buffer.concat(chunks, received));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => reject(fail(url.href, label, e.message, e)));
    req.end();
  });
}

/** Fetch a package file by URL (http, https, file) into memory. */
export async function fetchBytes(url: string, label: string, options: FetchOptions = {}): Promise<Buffer> {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw fail(url, label, "not a URL", cause);
  }
  if (u.protocol === "file:") {
    try {
      const b = await readFile(fileURLToPath(u));
      options.onBytes?.(b.length);
      return b;
    } catch (cause) {
      throw fail(url, label, (cause as Error).message, cause);
    }
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw fail(url, label, `unsupported scheme ${u.protocol}`);
  return get(u, options, label, 5);
}

/** Check bytes against the lock's sha256 (or md5 when that is all it has). */
export function verifyHash(
  bytes: Uint8Array,
  expected: { sha256?: string | undefined; md5?: string | undefined },
  label: string,
  url: string,
): void {
  const algo = expected.sha256 ? "sha256" : expected.md5 ? "md5" : undefined;
  if (!algo) {
    throw new CondaInstallError(
      CondaInstallErrorCode.HASH_MISMATCH,
      `${label}: the lock gives no sha256 or md5 for ${redactUrl(url)}; expected one so the download can be verified (re-lock with \`mlenv env lock\`)`,
      { package: label },
    );
  }
  const want = (algo === "sha256" ? expected.sha256 : expected.md5) as string;
  const got = createHash(algo).update(bytes).digest("hex");
  if (got !== want) {
    throw new CondaInstallError(
      CondaInstallErrorCode.HASH_MISMATCH,
      `${label}: ${algo} of ${redactUrl(url)} is ${got}, but the lock expects ${want} (the file changed on the channel or the download is corrupt); nothing was linked`,
      { package: label },
    );
  }
}
