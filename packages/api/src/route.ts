import type { z } from "zod";

/** A token's role in its workspace (reader < writer < admin). */
export type Role = "reader" | "writer" | "admin";

export type Method = "get" | "post" | "put" | "delete";

/** A response that is not JSON (bytes, text, an event stream): documented by its media type. */
export interface NonJsonResponse {
  contentType: string;
}

/**
 * One HTTP route, declared once: the server mounts it (validating the request with these
 * schemas), /openapi.json and docs/http-api.md are generated from it, and the SDK's request and
 * response types are inferred from it.
 */
export interface RouteDeclaration {
  method: Method;
  /** OpenAPI-style path, e.g. `/api/v1/environments/{name}`. */
  path: string;
  summary: string;
  /** The least role the calling token needs; null: no token (public, or its own check). */
  role: Role | null;
  /** Query parameters (strings in, parsed values out). */
  query?: z.ZodType;
  /** A JSON request body, validated before the handler runs. */
  body?: z.ZodType;
  /** An empty body is read as `{}` (else a JSON body is required). */
  optionalBody?: boolean;
  /** An example body, named in the 400 answer to a bad one. */
  bodyExample?: string;
  /**
   * The body is not JSON, or needs more than a schema (raw bytes, a relayed document): the
   * handler reads it itself. `body` then only documents it.
   */
  rawBody?: { contentType: string };
  /**
   * The route's own router limits its body with a larger limit than the server's default (which
   * then skips it): `snapshot` (MLENV_MAX_SNAPSHOT_BYTES, base64 in JSON) or `wheel`
   * (MLENV_MAX_WHEEL_BYTES, streamed to disk).
   */
  ownBodyLimit?: "snapshot" | "wheel";
  /** Status → JSON body schema, null for no body, or a non-JSON media type. */
  responses: Record<number, z.ZodType | null | NonJsonResponse>;
}

/** Declare a route (an identity function that keeps the literal types). */
export function route<const R extends RouteDeclaration>(declaration: R): R {
  return declaration;
}

/** What a route declares besides its method, path and role. */
export type RouteOptions = Omit<RouteDeclaration, "method" | "path" | "role">;

/** Declares a route for one role and method: `(path, options)`. */
export type RouteBuilder<M extends Method, R extends Role | null> = <
  const P extends string,
  const O extends RouteOptions,
>(
  path: P,
  options: O,
) => { method: M; path: P; role: R } & O;

/** The routes callable with the least role `role`, one builder per method (like tRPC's procedures). */
export interface RoleRoutes<R extends Role | null> {
  get: RouteBuilder<"get", R>;
  post: RouteBuilder<"post", R>;
  put: RouteBuilder<"put", R>;
  delete: RouteBuilder<"delete", R>;
}

function routesFor<const R extends Role | null>(role: R): RoleRoutes<R> {
  const builder =
    <M extends Method>(method: M): RouteBuilder<M, R> =>
    (path, options) =>
      route({ method, path, role, ...options });
  return { get: builder("get"), post: builder("post"), put: builder("put"), delete: builder("delete") };
}

/** Routes any token of the workspace may call: `reader.get("/api/v1/runs/{id}", { summary, responses })`. */
export const reader = routesFor("reader");
/** Routes that change the workspace's contents (writer or admin tokens). */
export const writer = routesFor("writer");
/** Routes for admin tokens only. */
export const admin = routesFor("admin");
/** Routes that take no token: public, or with their own check (a nonce, a signature). */
export const noToken = routesFor(null);

type ParamNames<P extends string> = P extends `${string}{${infer N}}${infer Rest}`
  ? N | ParamNames<Rest>
  : never;

/** The path parameters of a route, from its template: `{name}` → `{ name: string }`. */
export type RouteParams<R extends RouteDeclaration> = { [K in ParamNames<R["path"]>]: string };

type InputOf<S> = S extends z.ZodType ? z.input<S> : undefined;
type OutputOf<S> = S extends z.ZodType ? z.output<S> : undefined;

/** The query as a client sends it. */
export type RouteQueryInput<R extends RouteDeclaration> = InputOf<R["query"]>;
/** The query as the server's handler sees it (parsed). */
export type RouteQuery<R extends RouteDeclaration> = OutputOf<R["query"]>;
/** The JSON body as a client sends it. */
export type RouteBodyInput<R extends RouteDeclaration> = InputOf<R["body"]>;
/** The JSON body as the server's handler sees it (parsed, defaults applied). */
export type RouteBody<R extends RouteDeclaration> = OutputOf<R["body"]>;

type SuccessStatus<R extends RouteDeclaration> = Extract<keyof R["responses"], 200 | 201 | 202 | 204>;

/** The JSON answer of a route's success statuses (undefined for none). */
export type RouteResponse<R extends RouteDeclaration> = OutputOf<R["responses"][SuccessStatus<R>]>;

/** The concrete path of a route: each `{param}` replaced by its encoded value. */
export function routePath<R extends RouteDeclaration>(declaration: R, params: RouteParams<R>): string {
  return declaration.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = (params as Record<string, string | undefined>)[name];
    if (value === undefined) throw new TypeError(`Expected a value for {${name}} of ${declaration.path}`);
    return encodeURIComponent(value);
  });
}

/** The path in Hono's syntax (`/api/v1/environments/:name`). */
export function honoPath(declaration: Pick<RouteDeclaration, "path">): string {
  return declaration.path.replace(/\{([^}]+)\}/g, ":$1");
}
