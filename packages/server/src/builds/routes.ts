import { builds as B } from "@mlenv/api";
import { type CoreConfig, type Lock, parseDefinition, validateLock } from "@mlenv/core";
import { Hono } from "hono";
import { ServerError, ServerErrorCode } from "../errors";
import { mount } from "../http/mount";
import type { Logger } from "../logger";
import type { AuthenticatedToken, Store } from "../store/types";
import type { ImageBuilder } from "./builder";
import type { BuildQueue } from "./buildQueue";
import { type BuildJob, jobView } from "./jobStore";
import { buildEventResponse } from "./sse";

export interface BuildRoutesDeps {
  store: Store;
  queue: BuildQueue;
  builder: ImageBuilder;
  logger?: Logger;
  /** The core configuration stored definitions are parsed with (the builder's). */
  config?: CoreConfig;
}

const cut = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
};

/** HTTP routes of image builds, as declared in @mlenv/api `builds` (mount with `app.route("/", buildRoutes(deps))`). */
export function buildRoutes(deps: BuildRoutesDeps): Hono {
  const app = new Hono();

  async function definitionOf(
    a: AuthenticatedToken,
    name: string,
    which: { version?: unknown; label?: unknown },
  ) {
    let version: number | undefined;
    if (which.version !== undefined && which.version !== null && which.version !== "") {
      version = Number(which.version);
      if (!Number.isInteger(version) || version < 1) {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected version to be a positive integer like 3; received ${cut(which.version)}`,
        );
      }
    }
    const label = typeof which.label === "string" && which.label !== "" ? which.label : undefined;
    const resolved = await deps.store.resolve(a.workspaceId, name, { version, label });
    if (!resolved?.version) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `Environment ${cut(name)}${version ? ` version ${version}` : label ? ` label ${cut(label)}` : ""} not found`,
      );
    }
    const v = resolved.version;
    // A locked version builds (and is keyed) from its exact artifacts, as the registry keys it.
    const lock: Lock | undefined = v.lockJson ? validateLock(JSON.parse(v.lockJson)) : undefined;
    return {
      definition: parseDefinition(
        JSON.parse(v.definitionJson) as Record<string, unknown>,
        deps.config ? { config: deps.config } : {},
      ),
      version: v.version,
      lock,
    };
  }

  async function jobOf(a: AuthenticatedToken, id: string): Promise<BuildJob> {
    const job = await deps.queue.get(id).catch(() => null);
    // another workspace's job answers like a missing one
    if (!job || job.workspaceId !== a.workspaceId) {
      throw new ServerError(ServerErrorCode.NOT_FOUND, `Build ${cut(id)} not found`);
    }
    return job;
  }

  const log = deps.logger ? { logger: deps.logger } : {};

  mount(
    app,
    B.submitBuild,
    async ({ c, auth: a, params: { name }, body }) => {
      const { definition, version, lock } = await definitionOf(a, name, body);
      deps.builder.assertRenderable(definition, lock);
      const { job, coalesced } = await deps.queue.submit({
        definition,
        ...(lock ? { lock } : {}),
        workspaceId: a.workspaceId,
        context: { environment: name, version },
      });
      deps.logger?.info("build submitted", { environment: name, version, job: job.id, coalesced });
      return c.json({ job: jobView(job), coalesced }, 202);
    },
    log,
  );

  mount(app, B.environmentImage, async ({ c, auth: a, params: { name }, query }) => {
    const { definition, version, lock } = await definitionOf(a, name, query);
    const details = await deps.builder.describe(definition, {
      signal: c.req.raw.signal,
      workspaceId: a.workspaceId,
      ...(lock ? { lock } : {}),
    });
    return c.json({ name, version, ...details });
  });

  mount(app, B.getBuild, async ({ c, auth, params }) => c.json(jobView(await jobOf(auth, params.id))));

  mount(app, B.buildLogs, async ({ c, auth, params, query }) => {
    const job = await jobOf(auth, params.id);
    if (query.format === "json") {
      const after = Number(query.after ?? 0);
      const items = await deps.queue.logs(job.id, Number.isInteger(after) && after > 0 ? after : 0);
      return c.json({ status: job.status, items });
    }
    return buildEventResponse(deps.queue, job.id, c.req.raw);
  });

  mount(
    app,
    B.cancelBuild,
    async ({ c, auth, params }) => {
      const job = await jobOf(auth, params.id);
      return c.json(jobView(await deps.queue.cancel(job.id)));
    },
    log,
  );

  return app;
}
