import { createHash, randomBytes } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { ServerError, ServerErrorCode } from "./errors";
import type { AuthenticatedToken, Role } from "./store/types";

const TOKEN = /^mlenv_[A-Za-z0-9_-]{43}$/;

/** A new random API token: `mlenv_` + 32 random bytes in base64url. */
export function generateToken(): string {
  return `mlenv_${randomBytes(32).toString("base64url")}`;
}

/** True when `s` has the shape of an API token (checked before any lookup). */
export function isTokenShaped(s: string): boolean {
  return TOKEN.test(s);
}

/** What is stored for a token: its SHA-256 (hex). Tokens are 256-bit random, so no salt is needed. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

const RANK: Record<Role, number> = { reader: 1, writer: 2, admin: 3 };

/** True when `have` includes the rights of `need`. */
export function roleAllows(have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need];
}

/** How a presented token is turned into its live record (the app's: `Registry.authenticate`, cached). */
export type TokenLookup = (token: string) => Promise<AuthenticatedToken | null>;

type AuthEnv = { Variables: { tokenLookup: TokenLookup } };

/**
 * The server's one authentication: createApp installs it before mounting any sub-router, so
 * every route (registry, builds, runs, wheels, pypi) looks tokens up through the same cache and
 * sees the same revocations. Standalone mounts (tests) install it themselves.
 */
export function provideTokenLookup(lookup: TokenLookup): MiddlewareHandler {
  return async (c, next) => {
    (c as Context<AuthEnv>).set("tokenLookup", lookup);
    await next();
  };
}

/** The token in `Authorization`: Bearer, or with `basic` (pip) the password (or user) of Basic auth. */
function presentedToken(header: string | undefined, basic: boolean): string | null {
  if (!header) return null;
  const bearer = /^Bearer (\S+)$/i.exec(header);
  if (bearer) return isTokenShaped(bearer[1]!) ? bearer[1]! : null;
  if (!basic) return null;
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const pass = colon < 0 ? "" : decoded.slice(colon + 1);
  return isTokenShaped(pass) ? pass : isTokenShaped(user) ? user : null;
}

/** The calling token (any role); E_UNAUTHENTICATED when none, or not a live one, is presented. */
export async function identify(c: Context, options: { basic?: boolean } = {}): Promise<AuthenticatedToken> {
  const lookup = (c as Context<AuthEnv>).get("tokenLookup");
  if (!lookup) {
    throw new Error(
      "Expected routes mounted under createApp (or after provideTokenLookup); received a request without a token lookup",
    );
  }
  const header = c.req.header("authorization");
  const token = presentedToken(header, options.basic ?? false);
  const found = token ? await lookup(token) : null;
  if (found) return found;
  const how = options.basic
    ? "`Authorization: Bearer mlenv_...`, or for pip the token as the password in the index URL (https://__token__:mlenv_...@host/pypi/<workspace>/simple/)"
    : "`Authorization: Bearer mlenv_...`";
  throw new ServerError(
    ServerErrorCode.UNAUTHENTICATED,
    header
      ? `The token is unknown or revoked; expected ${how} with a live token`
      : `Expected an ${how} header; received none`,
  );
}

/** `auth` when its role includes `role`; E_FORBIDDEN otherwise. */
export function requireRole(auth: AuthenticatedToken, role: Role): AuthenticatedToken {
  if (roleAllows(auth.role, role)) return auth;
  throw new ServerError(
    ServerErrorCode.FORBIDDEN,
    `This needs a ${role} token; the calling token ${JSON.stringify(auth.name)} is a ${auth.role}`,
    { details: { required: role, role: auth.role } },
  );
}

/**
 * The workspace whose admins are the server's admins: `default`, created at bootstrap, whose
 * first admin token the operator holds (`<dataDir>/admin-token`).
 */
export const SERVER_ADMIN_WORKSPACE = "default";

/**
 * `auth` when it is a server admin (an admin token of the `default` workspace); E_FORBIDDEN
 * otherwise. Server-wide acts (creating workspaces) need it; another workspace's admin governs
 * that workspace only.
 */
export function requireServerAdmin(auth: AuthenticatedToken): AuthenticatedToken {
  requireRole(auth, "admin");
  if (auth.workspaceName === SERVER_ADMIN_WORKSPACE) return auth;
  throw new ServerError(
    ServerErrorCode.FORBIDDEN,
    `This needs a server admin: an admin token of the ${JSON.stringify(SERVER_ADMIN_WORKSPACE)} workspace (the operator's, in <dataDir>/admin-token); the calling token is an admin of ${JSON.stringify(auth.workspaceName)}, which governs that workspace only`,
    { details: { required: "server-admin", workspace: auth.workspaceName } },
  );
}

/** The calling token, which must have (at least) `role`. */
export async function authenticate(
  c: Context,
  role: Role,
  options: { basic?: boolean } = {},
): Promise<AuthenticatedToken> {
  return requireRole(await identify(c, options), role);
}
