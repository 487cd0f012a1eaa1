import { type CoreConfig, type Lock, parseDefinition, validateLock } from "@mlenv/core";
import { Hono } from "hono";
import { authenticate } from "../auth";
import { asServerError, ServerError, ServerErrorCode, serverErrorResponse } from "../errors";
import type { Logger } from "../logger";
import type { AuthenticatedToken, Store } from "../store/types";
import type { ImageBuilder } from "./builder";
import type { BuildQueue } from "./buildQueue";
import type { BuildJob } from "./jobStore";
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

/** A job as the API shows it: no submitted request body. */
function view(job: BuildJob): Omit<BuildJob, "request" | "workspaceId"> {
  const { request: _request, workspaceId: _ws, ...rest } = job;
  return rest;
}

/**
 * HTTP routes of image builds (mount with `app.route("/", buildRoutes(deps))`):
 *
 * | method | path | role | answer |
 * |---|---|---|---|
 * | POST | `/api/v1/environments/:name/builds` `{version?, label?}` | writer | 202 `{ job, coalesced }` |
 * | GET | `/api/v1/environments/:name/image` `?version=&label=` | reader | image details |
 * | GET | `/api/v1/builds/:id` | reader | the job |
 * | GET | `/api/v1/builds/:id/logs` | reader | SSE (`Last-Event-ID` resumes); `?format=json` for `{items}` |
 * | POST | `/api/v1/builds/:id/cancel` | writer | the job after cancelling |
 */
export function buildRoutes(deps: BuildRoutesDeps): Hono {
  const app = new Hono();

  app.onError((err, c) => {
    const known = asServerError(err);
    if (known) return serverErrorResponse(c, known);
    const code = (err as { code?: unknown }).code;
    if (code === "E_BUILD_NOT_FOUND") {
      return c.json({ code: ServerErrorCode.NOT_FOUND, message: err.message, details: {} }, 404);
    }
    // no engine answers: the service is unavailable, not broken
    if (code === "E_DOCKER_UNREACHABLE") {
      return c.json({ code, message: err.message.slice(0, 1000), details: {} }, 503);
    }
    deps.logger?.error("build request failed", {
      method: c.req.method,
      path: c.req.path,
      error: String(err).slice(0, 500),
    });
    return c.json({ code: ServerErrorCode.INTERNAL, message: "Internal server error", details: {} }, 500);
  });

  const auth = authenticate;

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

  app.post("/api/v1/environments/:name/builds", async (c) => {
    const a = await auth(c, "writer");
    const name = c.req.param("name");
    let body: { version?: unknown; label?: unknown } = {};
    const text = await c.req.text();
    if (text.trim() !== "") {
      try {
        body = JSON.parse(text) as typeof body;
      } catch {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected a JSON body like {"version":3} or {}; received ${cut(text)}`,
        );
      }
    }
    const { definition, version, lock } = await definitionOf(a, name, body ?? {});
    deps.builder.assertRenderable(definition, lock);
    const { job, coalesced } = await deps.queue.submit({
      definition,
      ...(lock ? { lock } : {}),
      workspaceId: a.workspaceId,
      context: { environment: name, version },
    });
    deps.logger?.info("build submitted", { environment: name, version, job: job.id, coalesced });
    return c.json({ job: view(job), coalesced }, 202);
  });

  app.get("/api/v1/environments/:name/image", async (c) => {
    const a = await auth(c, "reader");
    const { definition, version, lock } = await definitionOf(a, c.req.param("name"), {
      version: c.req.query("version"),
      label: c.req.query("label"),
    });
    const details = await deps.builder.describe(definition, {
      signal: c.req.raw.signal,
      workspaceId: a.workspaceId,
      ...(lock ? { lock } : {}),
    });
    return c.json({ name: c.req.param("name"), version, ...details });
  });

  app.get("/api/v1/builds/:id", async (c) => {
    const a = await auth(c, "reader");
    return c.json(view(await jobOf(a, c.req.param("id"))));
  });

  app.get("/api/v1/builds/:id/logs", async (c) => {
    const a = await auth(c, "reader");
    const job = await jobOf(a, c.req.param("id"));
    if (c.req.query("format") === "json") {
      const after = Number(c.req.query("after") ?? 0);
      const items = await deps.queue.logs(job.id, Number.isInteger(after) && after > 0 ? after : 0);
      return c.json({ status: job.status, items });
    }
    return buildEventResponse(deps.queue, job.id, c.req.raw);
  });

  app.post("/api/v1/builds/:id/cancel", async (c) => {
    const a = await auth(c, "writer");
    const job = await jobOf(a, c.req.param("id"));
    return c.json(view(await deps.queue.cancel(job.id)));
  });

  return app;
}
