import type { CoreConfig } from "@mlenv/core";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { identify, provideTokenLookup, requireRole } from "./auth";
import type { BlobStore } from "./blobs/blobStore";
import { buildRouteDocs } from "./builds/openapi";
import { computeRouteDocs } from "./compute/routes";
import {
  asServerError,
  preview,
  refuseDeepJson,
  ServerError,
  ServerErrorCode,
  serverErrorResponse,
} from "./errors";
import { openApiDocument, type RouteDoc } from "./http/openapi";
import * as S from "./http/schemas";
import { type Logger, silentLogger } from "./logger";
import { type BuildJobsSource, metricsRouteDoc, ServerMetrics } from "./metrics/metrics";
import { Registry } from "./registry";
import { runRouteDocs } from "./runs/openapi";
import type { RunSupport } from "./runs/support";
import type { AuthenticatedToken, Store } from "./store/types";
import { mountUi } from "./ui/serve";
import { wheelRouteDocs } from "./wheels/openapi";
import { wheelRoutes } from "./wheels/routes";
import type { WheelSupport } from "./wheels/support";

/** What createApp needs. */
export interface AppDeps {
  store: Store;
  blobs: BlobStore;
  logger?: Logger;
  /** Clock (tests). */
  now?: () => string;
  /** Maximum request body in bytes (default 10 MiB). */
  maxBodyBytes?: number;
  /** Private wheels, the simple index and signed URLs (src/wheels, see its README section). */
  wheels?: WheelSupport;
  /** Prometheus metrics served at `GET /metrics` (src/metrics); a fresh registry when absent. */
  metrics?: ServerMetrics;
  /** Runs, models and local web services (src/runs, src/models, src/services). */
  runs?: RunSupport;
  /** Image builds (src/builds: `openBuildSupport`): its routes, mounted as they are. */
  builds?: { routes: Hono; jobs?: BuildJobsSource };
  /** Core configuration definitions are parsed with (the builder's default base images). */
  config?: CoreConfig;
}

type Env = { Variables: { auth: AuthenticatedToken } };

interface HandlerInput {
  c: Context<Env>;
  auth: AuthenticatedToken;
  body: unknown;
  query: unknown;
  params: Record<string, string>;
}

interface Route extends RouteDoc {
  /** An example body for error messages. */
  bodyExample?: string;
  handle(input: HandlerInput): Promise<Response>;
}

function zodDetails(error: z.ZodError): Record<string, unknown> {
  return {
    issues: error.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })),
  };
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, what: string, example: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const first = r.error.issues[0];
  throw new ServerError(
    ServerErrorCode.BAD_REQUEST,
    `Invalid ${what}: ${first ? `${first.path.map(String).join(".") || "(root)"}: ${first.message}` : "rejected"}. Expected e.g. ${example}; received ${preview(value)}`,
    { details: zodDetails(r.error) },
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

/**
 * Routes whose router applies its own, larger body limit: snapshots and model files travel base64
 * in JSON (runs: MLENV_MAX_SNAPSHOT_BYTES), wheels stream to disk and stop past MLENV_MAX_WHEEL_BYTES.
 */
const OWN_BODY_LIMIT: ReadonlyArray<{ method: string; path: RegExp }> = [
  { method: "POST", path: /^\/api\/v1\/(snapshots|models)\/?$/ },
  // datastore versions travel like snapshots (base64 in JSON, the snapshot limit)
  { method: "POST", path: /^\/api\/v1\/datastores\/[^/]+\/versions\/?$/ },
  { method: "PUT", path: /^\/upload\/v1\/wheels\/[^/]+$/ },
];

function hasOwnBodyLimit(method: string, path: string): boolean {
  return OWN_BODY_LIMIT.some((r) => r.method === method && r.path.test(path));
}

const ARCHIVED = { false: "exclude", true: "include", only: "only" } as const;

/** The registry HTTP app (Hono). Serve it with @hono/node-server or call `app.request()` in tests. */
export function createApp(deps: AppDeps): {
  app: Hono<Env>;
  registry: Registry;
  routes: readonly RouteDoc[];
} {
  const logger = deps.logger ?? silentLogger;
  const registry = new Registry({
    store: deps.store,
    blobs: deps.blobs,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.config ? { config: deps.config } : {}),
  });
  const ws = (a: AuthenticatedToken) => a.workspaceId;

  const routes: Route[] = [
    {
      method: "get",
      path: "/api/v1/whoami",
      summary: "The workspace and role of the calling token",
      role: "reader",
      responses: { 200: S.WhoamiSchema },
      handle: async ({ c, auth }) =>
        c.json({ workspace: auth.workspaceName, role: auth.role, tokenId: auth.id, tokenName: auth.name }),
    },
    {
      method: "post",
      path: "/api/v1/workspaces",
      summary: "Create a workspace and its first admin token",
      role: "admin",
      body: S.CreateWorkspaceSchema,
      bodyExample: '{"name":"team-a"}',
      responses: { 201: S.WorkspaceCreatedSchema },
      handle: async ({ c, body }) => {
        const { name } = body as z.infer<typeof S.CreateWorkspaceSchema>;
        const { workspace, adminToken } = await registry.createWorkspace(name);
        logger.info("workspace created", { workspace: workspace.name });
        return c.json(
          { workspace: { name: workspace.name, createdAt: workspace.createdAt }, adminToken },
          201,
        );
      },
    },
    {
      method: "get",
      path: "/api/v1/tokens",
      summary: "List the workspace's live tokens",
      role: "admin",
      responses: { 200: S.TokenListSchema },
      handle: async ({ c, auth }) => {
        const items = await deps.store.listTokens(ws(auth));
        return c.json({
          items: items.map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: t.createdAt })),
        });
      },
    },
    {
      method: "post",
      path: "/api/v1/tokens",
      summary: "Create a token (the plaintext is returned once)",
      role: "admin",
      body: S.CreateTokenSchema,
      bodyExample: '{"name":"ci","role":"writer"}',
      responses: { 201: S.TokenCreatedSchema },
      handle: async ({ c, auth, body }) => {
        const b = body as z.infer<typeof S.CreateTokenSchema>;
        const { record, token } = await registry.createToken(ws(auth), b.name, b.role);
        logger.info("token created", {
          workspace: auth.workspaceName,
          tokenId: record.id,
          role: record.role,
        });
        return c.json(
          { id: record.id, name: record.name, role: record.role, createdAt: record.createdAt, token },
          201,
        );
      },
    },
    {
      method: "delete",
      path: "/api/v1/tokens/{id}",
      summary: "Revoke a token",
      role: "admin",
      responses: { 204: null },
      handle: async ({ c, auth, params }) => {
        await registry.revokeToken(ws(auth), params.id!);
        return c.body(null, 204);
      },
    },
    {
      method: "post",
      path: "/api/v1/environments",
      summary: "Register a definition (new hash: next version; same hash: the existing version)",
      role: "writer",
      body: S.RegisterSchema,
      bodyExample: '{"definition":{"name":"my-env"}}',
      responses: { 200: S.RegisteredSchema, 201: S.RegisteredSchema },
      handle: async ({ c, auth, body }) => {
        const b = body as z.infer<typeof S.RegisterSchema>;
        const out = await registry.register(ws(auth), b.definition, auth.name, b.lock);
        if (out.created) {
          logger.info("environment registered", {
            workspace: auth.workspaceName,
            name: out.environment.name,
            version: out.environment.version,
          });
        }
        return c.json(out, out.created ? 201 : 200);
      },
    },
    {
      method: "get",
      path: "/api/v1/environments",
      summary: "List the latest version of each environment",
      role: "reader",
      query: S.ListQuerySchema,
      responses: { 200: S.EnvironmentListSchema },
      handle: async ({ c, auth, query }) => {
        const q = query as z.infer<typeof S.ListQuerySchema>;
        return c.json(
          await registry.list({
            workspaceId: ws(auth),
            prefix: q.prefix,
            tag: q.tag,
            cursor: q.cursor,
            limit: q.limit ?? 50,
            archived: ARCHIVED[q.archived ?? "false"],
          }),
        );
      },
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}",
      summary: "Get the latest version, or ?version=N, or ?label=L",
      role: "reader",
      query: S.GetQuerySchema,
      responses: { 200: S.EnvironmentVersionSchema },
      handle: async ({ c, auth, params, query }) => {
        const q = query as z.infer<typeof S.GetQuerySchema>;
        if (q.version !== undefined && q.label !== undefined) {
          throw new ServerError(
            ServerErrorCode.BAD_REQUEST,
            "Expected at most one of ?version= and ?label=, e.g. ?label=production; received both",
            {
              details: { version: q.version, label: preview(q.label) },
            },
          );
        }
        return c.json(await registry.get(ws(auth), params.name!, q));
      },
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}/versions",
      summary: "Version history (oldest first, without definitions)",
      role: "reader",
      responses: { 200: S.HistorySchema },
      handle: async ({ c, auth, params }) => c.json(await registry.history(ws(auth), params.name!)),
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}/versions/{version}",
      summary: "Get one version",
      role: "reader",
      responses: { 200: S.EnvironmentVersionSchema },
      handle: async ({ c, auth, params }) => {
        const { version } = parseWith(
          S.GetQuerySchema,
          { version: params.version },
          "version",
          "/versions/3",
        );
        return c.json(await registry.get(ws(auth), params.name!, { version }));
      },
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}/versions/{version}/lock",
      summary: "The lock stored with a version (404 E_NOT_FOUND when it is unlocked)",
      role: "reader",
      responses: { 200: S.LockDocumentSchema },
      handle: async ({ c, auth, params }) => {
        const { version } = parseWith(
          S.GetQuerySchema,
          { version: params.version },
          "version",
          "/versions/3/lock",
        );
        return c.json(await registry.getLock(ws(auth), params.name!, version!));
      },
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}/diff",
      summary: "Structured diff between two versions (core's diffDefinitions)",
      role: "reader",
      query: S.DiffQuerySchema,
      responses: { 200: S.DiffSchema },
      handle: async ({ c, auth, params, query }) => {
        const q = query as z.infer<typeof S.DiffQuerySchema>;
        return c.json(await registry.diff(ws(auth), params.name!, q.from, q.to));
      },
    },
    {
      method: "get",
      path: "/api/v1/environments/{name}/labels",
      summary: "Labels of an environment",
      role: "reader",
      responses: { 200: S.LabelListSchema },
      handle: async ({ c, auth, params }) =>
        c.json({ items: await registry.listLabels(ws(auth), params.name!) }),
    },
    {
      method: "put",
      path: "/api/v1/environments/{name}/labels/{label}",
      summary: "Point a label at a version (moves it if it exists)",
      role: "writer",
      body: S.SetLabelSchema,
      bodyExample: '{"version":2}',
      responses: { 200: S.LabelSchema },
      handle: async ({ c, auth, params, body }) => {
        const { version } = body as z.infer<typeof S.SetLabelSchema>;
        return c.json(await registry.setLabel(ws(auth), params.name!, params.label!, version));
      },
    },
    {
      method: "delete",
      path: "/api/v1/environments/{name}/labels/{label}",
      summary: "Remove a label",
      role: "writer",
      responses: { 204: null },
      handle: async ({ c, auth, params }) => {
        await registry.deleteLabel(ws(auth), params.name!, params.label!);
        return c.body(null, 204);
      },
    },
    {
      method: "post",
      path: "/api/v1/environments/{name}/archive",
      summary: "Archive (hidden from list, still gettable by version)",
      role: "writer",
      responses: { 200: S.EnvironmentSummarySchema },
      handle: async ({ c, auth, params }) => c.json(await registry.setArchived(ws(auth), params.name!, true)),
    },
    {
      method: "post",
      path: "/api/v1/environments/{name}/restore",
      summary: "Restore an archived environment",
      role: "writer",
      responses: { 200: S.EnvironmentSummarySchema },
      handle: async ({ c, auth, params }) =>
        c.json(await registry.setArchived(ws(auth), params.name!, false)),
    },
    {
      method: "post",
      path: "/api/v1/environments/{name}/clone",
      summary: "Copy a version under a new name (version 1)",
      role: "writer",
      body: S.CloneSchema,
      bodyExample: '{"newName":"my-env","version":1}',
      responses: { 201: S.RegisteredSchema },
      handle: async ({ c, auth, params, body }) => {
        const b = body as z.infer<typeof S.CloneSchema>;
        const out = await registry.clone(
          ws(auth),
          params.name!,
          b.newName,
          { version: b.version, label: b.label },
          auth.name,
        );
        return c.json(out, 201);
      },
    },
  ];

  const app = new Hono<Env>();
  const metrics = deps.metrics ?? new ServerMetrics();
  if (deps.builds?.jobs) metrics.setBuildJobs(deps.builds.jobs);
  const validator = deps.wheels?.validator;
  if (validator) {
    metrics.addGauge(
      "mlenv_wheel_validations_running",
      "Wheel uploads being validated (in worker threads) in this process.",
      () => validator.running,
    );
  }
  app.use("*", metrics.middleware());
  app.get("/metrics", metrics.handler);
  const maxBody = deps.maxBodyBytes ?? 10 * 1024 * 1024;

  app.onError((err, c) => {
    const known = asServerError(err);
    if (known) return serverErrorResponse(c, known);
    logger.error("request failed", {
      method: c.req.method,
      path: c.req.path,
      error: String(err).slice(0, 500),
    });
    return c.json({ code: ServerErrorCode.INTERNAL, message: "Internal server error", details: {} }, 500);
  });
  app.notFound((c) =>
    c.json(
      new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No route ${c.req.method} ${preview(c.req.path)}; see /openapi.json`,
        {
          details: { method: c.req.method, path: preview(c.req.path) },
        },
      ).toJSON(),
      404,
    ),
  );

  app.get("/healthz", async (c) => {
    try {
      await deps.store.ping();
      return c.json({ status: "ok", store: deps.store.kind });
    } catch (e) {
      logger.error("health check failed", { store: deps.store.kind, error: String(e).slice(0, 500) });
      return c.json({ status: "unavailable", store: deps.store.kind }, 503);
    }
  });
  const doc = openApiDocument(
    [
      {
        method: "get",
        path: "/healthz",
        summary: "Health (503 when the database does not answer)",
        role: null,
        responses: { 200: S.HealthSchema, 503: S.HealthSchema },
      },
      ...routes,
      ...(deps.wheels ? wheelRouteDocs : []),
      ...(deps.runs ? [...runRouteDocs, ...computeRouteDocs] : []),
      ...(deps.builds ? buildRouteDocs : []),
      metricsRouteDoc,
    ],
    { version: "1" },
  );
  app.get("/openapi.json", (c) => c.json(doc));
  const limitBody = bodyLimit({
    maxSize: maxBody,
    onError: (c) =>
      c.json(
        new ServerError(ServerErrorCode.TOO_LARGE, `Expected a request body of at most ${maxBody} bytes`, {
          details: { maxBytes: maxBody },
        }).toJSON(),
        413,
      ),
  });
  // Every route with a body is limited, the sub-routers' too: this is registered before they are
  // mounted (Hono runs handlers in registration order). Touching `body` makes @hono/node-server
  // build a full Request (an AbortSignal and more): skip it for methods that carry none, the hot
  // read path. A few routes apply a larger limit of their own (OWN_BODY_LIMIT).
  app.use("*", (c, next) =>
    c.req.method === "GET" || c.req.method === "HEAD" || hasOwnBodyLimit(c.req.method, c.req.path)
      ? next()
      : limitBody(c, next),
  );
  // Every route below, the sub-routers' too, authenticates through the registry's token cache.
  app.use(
    "*",
    provideTokenLookup((token) => registry.authenticate(token)),
  );
  if (deps.wheels) app.route("/", wheelRoutes({ ...deps, ...deps.wheels, logger }));
  if (deps.runs) app.route("/", deps.runs.routes);
  if (deps.builds) app.route("/", deps.builds.routes);
  mountUi(app); // web UI: `/` and `/ui/*` (src/ui)
  app.use("/api/*", async (c, next) => {
    c.set("auth", await identify(c));
    await next();
  });

  for (const r of routes) {
    const honoPath = r.path.replace(/\{([^}]+)\}/g, ":$1");
    app.on(r.method.toUpperCase(), honoPath, async (c) => {
      const auth = c.get("auth");
      if (r.role) requireRole(auth, r.role);
      let body: unknown;
      if (r.body) {
        let raw: unknown;
        try {
          raw = await c.req.json();
        } catch (e) {
          throw new ServerError(
            ServerErrorCode.BAD_REQUEST,
            "Expected a JSON request body (Content-Type: application/json)",
            {
              details: { reason: String(e).slice(0, 200) },
              cause: e,
            },
          );
        }
        refuseDeepJson(raw);
        body = parseWith(r.body, raw, "request body", r.bodyExample ?? "{}");
      }
      const rawQuery = c.req.query();
      const params = c.req.param() as Record<string, string>;
      refuseNul(params, "path");
      refuseNul(rawQuery, "query");
      refuseNul(body, "request body");
      const query = r.query ? parseWith(r.query, rawQuery, "query", "?limit=50") : undefined;
      const t0 = performance.now();
      const res = await r.handle({ c, auth, body, query, params });
      // Writes at info (an audit trail), reads at debug (hot path).
      logger[r.method === "get" ? "debug" : "info"]("request", {
        method: r.method,
        route: r.path,
        status: res.status,
        ms: Math.round((performance.now() - t0) * 100) / 100,
        workspace: auth.workspaceName,
      });
      return res;
    });
  }

  return { app, registry, routes };
}
