import { featureRoutes, openApiDocument, type RouteDeclaration, system } from "@mlenv/api";
import type { CoreConfig } from "@mlenv/core";
import { Hono } from "hono";
import { provideTokenLookup } from "./auth";
import type { BlobStore } from "./blobs/blobStore";
import { Registry } from "./environments/registry";
import { registryRoutes } from "./environments/routes";
import { preview, ServerError, ServerErrorCode } from "./errors";
import { tooLargeLimit } from "./http/bodyLimit";
import { errorHandler } from "./http/errors";
import { mount } from "./http/mount";
import type { Logger } from "./logger";
import { silentLogger } from "./logger";
import { type BuildJobsSource, ServerMetrics } from "./metrics/metrics";
import type { RunSupport } from "./runs/support";
import type { Store } from "./store/types";
import { mountUi } from "./ui/serve";
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

/**
 * Matchers of the routes whose declaration says their router applies its own, larger body limit
 * (`ownBodyLimit`: snapshots and model files travel base64 in JSON, wheels stream to disk).
 */
function ownBodyLimitMatchers(routes: readonly RouteDeclaration[]): { method: string; path: RegExp }[] {
  return routes
    .filter((r) => r.ownBodyLimit !== undefined)
    .map((r) => ({
      method: r.method.toUpperCase(),
      path: new RegExp(
        `^${r.path
          .split(/\{[^}]+\}/)
          .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, "\\$&"))
          .join("[^/]+")}/?$`,
      ),
    }));
}

/** The registry HTTP app (Hono). Serve it with @hono/node-server or call `app.request()` in tests. */
export function createApp(deps: AppDeps): {
  app: Hono;
  registry: Registry;
  /** The declarations of every route this app mounts (what /openapi.json documents). */
  routes: readonly RouteDeclaration[];
} {
  const logger = deps.logger ?? silentLogger;
  const registry = new Registry({
    store: deps.store,
    blobs: deps.blobs,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.config ? { config: deps.config } : {}),
  });
  const app = new Hono();
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
  mount(app, system.metrics, () => metrics.handler());
  const maxBody = deps.maxBodyBytes ?? 10 * 1024 * 1024;

  app.onError(errorHandler(logger));
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

  mount(app, system.health, async ({ c }) => {
    try {
      await deps.store.ping();
      return c.json({ status: "ok", store: deps.store.kind });
    } catch (e) {
      logger.error("health check failed", { store: deps.store.kind, error: String(e).slice(0, 500) });
      return c.json({ status: "unavailable", store: deps.store.kind }, 503);
    }
  });
  const routes = [
    ...featureRoutes.system,
    ...featureRoutes.environments,
    ...(deps.wheels ? featureRoutes.wheels : []),
    ...(deps.runs
      ? [...featureRoutes.runs, ...featureRoutes.models, ...featureRoutes.services, ...featureRoutes.compute]
      : []),
    ...(deps.builds ? featureRoutes.builds : []),
  ];
  const doc = openApiDocument(routes, { version: "1" });
  const ownLimit = ownBodyLimitMatchers(routes);
  const hasOwnBodyLimit = (method: string, path: string) =>
    ownLimit.some((r) => r.method === method && r.path.test(path));
  mount(app, system.openApi, ({ c }) => c.json(doc));
  const limitBody = tooLargeLimit({
    maxSize: maxBody,
    message: `Expected a request body of at most ${maxBody} bytes`,
  });
  // Every route with a body is limited, the sub-routers' too: this is registered before they are
  // mounted (Hono runs handlers in registration order). Touching `body` makes @hono/node-server
  // build a full Request (an AbortSignal and more): skip it for methods that carry none, the hot
  // read path. Routes declared with `ownBodyLimit` apply a larger one of their own.
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
  app.route("/", registryRoutes(registry, deps.store, logger));

  return { app, registry, routes };
}
