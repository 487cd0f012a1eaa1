import { received, WheelError, WheelErrorCodes } from "./errors";

const HOST = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:\d{1,5})?$/;
const SECRET_REF = /\$\{MLENV_SECRET_([A-Za-z][A-Za-z0-9_]{0,63})\}/g;
/** pip options whose value is an index (or links) URL: the only place a secret may appear. */
const INDEX_OPTION = /^\s*(--index-url|--extra-index-url|-i|--find-links|-f)(?:\s+|=)(\S+)\s*$/;

/**
 * Check one allowed-host entry an admin gives for a secret: a host (`pypi.corp.example`,
 * `pypi.corp.example:8443`) or an http(s) URL prefix (`https://pypi.corp.example/simple/`).
 * Returns it normalised (host lower-cased); throws E_BAD_REQUEST-style WheelError otherwise.
 */
export function normaliseAllowedHost(entry: string): string {
  const text = entry.trim();
  if (HOST.test(text)) return text.toLowerCase();
  if (/^https?:\/\//i.test(text)) {
    try {
      const u = new URL(text);
      if (!u.username && !u.password && !u.search && !u.hash && HOST.test(u.host)) {
        return `${u.protocol}//${u.host}${u.pathname}`;
      }
    } catch {
      // fall through
    }
  }
  throw new WheelError(
    WheelErrorCodes.secretNotAllowed,
    `Expected an allowed host like "pypi.corp.example" (or "host:8443"), or a URL prefix like "https://pypi.corp.example/simple/" (no credentials, query or fragment); received "${received(entry)}"`,
  );
}

/** True when `url` goes to one of `allowed` (a host, or a URL prefix). */
export function urlAllowed(allowed: readonly string[], url: URL): boolean {
  const bare = `${url.protocol}//${url.host}${url.pathname}`;
  return allowed.some((a) =>
    a.includes("://") ? bare.startsWith(a) : a === url.host.toLowerCase() || a === url.hostname.toLowerCase(),
  );
}

/**
 * Refuse a pip block that could send a workspace secret anywhere but where an admin allowed it:
 * a `${MLENV_SECRET_<NAME>}` may only appear in the URL of an index option (`--index-url`,
 * `--extra-index-url`, `--find-links`) whose host or prefix the secret's allowed hosts include.
 * In a direct requirement URL it would also be baked into the image (`direct_url.json`).
 */
export async function checkSecretUse(
  lines: readonly string[],
  allowedHosts: (name: string) => Promise<string[]>,
): Promise<void> {
  for (const [i, line] of lines.entries()) {
    const names = [...new Set([...line.matchAll(SECRET_REF)].map((m) => m[1]!))];
    if (names.length === 0) continue;
    const m = INDEX_OPTION.exec(line);
    if (!m) {
      throw new WheelError(
        WheelErrorCodes.secretNotAllowed,
        `Expected \${MLENV_SECRET_${names[0]}} only in an index URL (--index-url, --extra-index-url or --find-links https://user:\${MLENV_SECRET_${names[0]}}@host/...); pip line ${i + 1} uses it elsewhere (a direct requirement URL would also bake it into the image)`,
        { details: { line: i + 1, secret: names[0] } },
      );
    }
    let url: URL;
    try {
      url = new URL(m[2]!.replace(SECRET_REF, "secret"));
    } catch {
      throw new WheelError(
        WheelErrorCodes.secretNotAllowed,
        `Expected pip line ${i + 1} to hold an http(s) index URL with its \${MLENV_SECRET_...} reference; received an option value that is not a URL`,
        { details: { line: i + 1 } },
      );
    }
    for (const name of names) {
      const allowed = await allowedHosts(name);
      if (!/^https?:$/.test(url.protocol) || !urlAllowed(allowed, url)) {
        throw new WheelError(
          WheelErrorCodes.secretNotAllowed,
          `Expected secret ${name} to be sent only to ${allowed.length ? allowed.join(", ") : "hosts an admin allows (none yet)"}; pip line ${i + 1} sends it to ${received(url.host)}. An admin allows a host with \`mlenv index secret set ${name} --allow-host <host>\``,
          { details: { line: i + 1, secret: name, host: received(url.host), allowed } },
        );
      }
    }
  }
}

/**
 * The forms of a secret value to hide in logs: the value, its percent-encoding, its base64 at
 * each of the three byte alignments (as inside a Basic auth header), and every 8-character window
 * (a cut or partly printed value).
 */
export function redactionForms(value: string): string[] {
  const out = new Set<string>([value, encodeURIComponent(value)]);
  const bytes = Buffer.from(value, "utf8");
  for (let k = 0; k < 3; k++) {
    const b64 = Buffer.concat([Buffer.alloc(k), bytes]).toString("base64");
    // characters that depend only on the value's bytes: skip the first quantum when padded in
    // front, and the last one (it depends on what follows)
    const inner = b64.slice(k === 0 ? 0 : 4, Math.max(0, b64.length - 4));
    if (inner.length >= 8) out.add(inner);
  }
  if (value.length > 8) for (let i = 0; i + 8 <= value.length; i++) out.add(value.slice(i, i + 8));
  return [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}
