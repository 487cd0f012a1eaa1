import {
  honoPath,
  type RouteBody,
  type RouteDeclaration,
  type RouteParams,
  type RouteQuery,
} from "@mlenv/api";
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { z } from "zod";
import { authenticate } from "../auth";
import { preview, refuseDeepJson, ServerError, ServerErrorCode } from "../errors";
import type { Logger } from "../logger";
import type { AuthenticatedToken } from "../store/types";

/** What a handler of a declared route receives: the request, validated by its declaration. */
export interface RouteInput<R extends RouteDeclaration> {
  c: Context;
  /** The calling token (checked against the route's role); null on public routes. */
  auth: R["role"] extends null ? null : AuthenticatedToken;
  params: RouteParams<R>;
  query: RouteQuery<R>;
  body: RouteBody<R>;
}

export type RouteHandler<R extends RouteDeclaration> = (input: RouteInput<R>) => Response | Promise<Response>;

export interface MountOptions {
  /** Middleware run before the route (a body limit of its own). */
  before?: MiddlewareHandler[];
  /** How the calling token is found (default: a Bearer token with the route's role). */
  authenticate?: (c: Context) => Promise<AuthenticatedToken>;
  /** Checks of the path parameters that answer their own error code (before the generic ones). */
  checkParams?: (params: Record<string, string>) => void;
  /** Writes are logged at info (an audit trail), reads at debug. */
  logger?: Pick<Logger, "info" | "debug">;
}

/** Fields of a body never echoed in an error message (they may hold a secret). */
const SECRET_FIELDS = ["value", "token", "password"];

function masked(value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const k of SECRET_FIELDS) if (k in out) out[k] = "***";
  return out;
}

function invalid(what: string, error: z.ZodError, received: unknown, example?: string): ServerError {
  const first = error.issues[0];
  const setting = first ? first.path.map(String).join(".") || "(root)" : "(root)";
  return new ServerError(
    ServerErrorCode.BAD_REQUEST,
    `Invalid ${what}: ${setting}: ${first?.message ?? "rejected"}.${example ? ` Expected e.g. ${example};` : ""} received ${preview(masked(received))}`,
    {
      details: {
        setting,
        issues: error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
      },
    },
  );
}

/** The JSON path of the first string (or key) holding a NUL character, or null. */
function findNul(value: unknown, path = ""): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path || "(root)" : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const hit = findNul(value[i], `${path}[${i}]`);
      if (hit) return hit;
    }
    return null;
  }
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (k.includes("\u0000")) return here;
      const hit = findNul(v, here);
      if (hit) return hit;
    }
  }
  return null;
}

/** No NUL character may reach the database (PostgreSQL text refuses it; names never need it). */
function refuseNul(value: unknown, where: string): void {
  const at = findNul(value);
  if (at) {
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected text without NUL characters in the ${where}, e.g. "production"; received one at ${preview(at)}`,
      { details: { where, path: preview(at) } },
    );
  }
}

async function readJsonBody(c: Context, r: RouteDeclaration): Promise<unknown> {
  const example = r.bodyExample ?? "{}";
  let text: string;
  try {
    text = await c.req.text();
  } catch (e) {
    throw new ServerError(ServerErrorCode.BAD_REQUEST, `Expected a JSON request body like ${example}`, {
      details: { reason: String(e).slice(0, 200) },
      cause: e,
    });
  }
  if (r.optionalBody && text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected a JSON request body like ${example} (Content-Type: application/json); received ${preview(text)}`,
      { details: { reason: String(e).slice(0, 200) }, cause: e },
    );
  }
}

/**
 * Mount one declared route on `app`: the token is checked against its role, the body read and
 * validated (always before any answer, so a client still sending is never cut off), path and
 * query validated, then `handle` runs with the parsed values. Errors are thrown, and answered by
 * the app's one error handler (`http/errors.ts`).
 */
export function mount<R extends RouteDeclaration>(
  app: Hono,
  r: R,
  handle: RouteHandler<R>,
  options: MountOptions = {},
): void {
  const handler = async (c: Context): Promise<Response> => {
    const auth = options.authenticate
      ? await options.authenticate(c)
      : r.role
        ? await authenticate(c, r.role)
        : null;
    let body: unknown;
    if (r.body && !r.rawBody) {
      const raw = await readJsonBody(c, r);
      refuseDeepJson(raw);
      const parsed = r.body.safeParse(raw);
      if (!parsed.success) throw invalid("request body", parsed.error, raw, r.bodyExample);
      body = parsed.data;
      refuseNul(body, "request body");
    }
    const params = c.req.param() as Record<string, string>;
    const rawQuery = c.req.query();
    options.checkParams?.(params);
    refuseNul(params, "path");
    refuseNul(rawQuery, "query");
    let query: unknown;
    if (r.query) {
      const parsed = r.query.safeParse(rawQuery);
      if (!parsed.success) throw invalid("query", parsed.error, rawQuery);
      query = parsed.data;
    }
    const t0 = performance.now();
    const res = await handle({ c, auth, params, query, body } as RouteInput<R>);
    options.logger?.[r.method === "get" ? "debug" : "info"]("request", {
      method: r.method,
      route: r.path,
      status: res.status,
      ms: Math.round((performance.now() - t0) * 100) / 100,
      ...(auth ? { workspace: auth.workspaceName } : {}),
    });
    return res;
  };
  const handlers: MiddlewareHandler[] = [...(options.before ?? []), handler as MiddlewareHandler];
  app.on(r.method.toUpperCase(), [honoPath(r)], ...(handlers as [MiddlewareHandler]));
}

/** Log, at info (the audit trail), a change the calling token made in its workspace. */
export function logChange(
  logger: Pick<Logger, "info"> | undefined,
  auth: AuthenticatedToken,
  msg: string,
  fields: Record<string, unknown>,
): void {
  logger?.info(msg, { workspace: auth.workspaceName, ...fields });
}

/** {@link mount} for a router whose routes all take the same options (all logged, say): the app and options bound. */
export function mounter(app: Hono, options: MountOptions) {
  return <R extends RouteDeclaration>(r: R, handle: RouteHandler<R>): void => mount(app, r, handle, options);
}
