import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { authenticate } from "../auth";
import { asServerError, preview, ServerError, ServerErrorCode, serverErrorResponse } from "../errors";
import type { RouteDoc } from "../http/openapi";
import type { Logger } from "../logger";
import {
  AttachSlurmSchema,
  ComputeTargetView,
  CreateDatastoreSchema,
  DatastoreVersionView,
  DatastoreView,
} from "./schemas";
import { BUILT_IN_TARGETS, type ComputeService } from "./service";
import type { ComputeTargetRecord, DatastoreRecord } from "./store";

const UploadSchema = z.object({
  files: z
    .array(z.object({ path: z.string().refine((s) => !s.includes("\u0000")), content: z.string() }))
    .min(1)
    .max(20_000),
});

function targetView(t: ComputeTargetRecord): z.infer<typeof ComputeTargetView> {
  return {
    name: t.name,
    kind: t.kind,
    builtIn: false,
    settings: t.settings,
    credentials: t.secretName ? "secret" : "none",
    createdBy: t.createdBy,
    createdAt: t.createdAt,
  };
}

function builtInView(name: (typeof BUILT_IN_TARGETS)[number]): z.infer<typeof ComputeTargetView> {
  return {
    name,
    kind: name,
    builtIn: true,
    settings: null,
    credentials: "none",
    createdBy: null,
    createdAt: null,
  };
}

function datastoreView(d: DatastoreRecord): z.infer<typeof DatastoreView> {
  const { workspaceId: _w, ...rest } = d;
  return rest;
}

/**
 * Compute targets and datastores of the token's workspace:
 *
 * | method | path | role | answer |
 * |---|---|---|---|
 * | GET | `/api/v1/compute` | reader | `{items}` (local and docker first) |
 * | GET | `/api/v1/compute/:name` | reader | target (never its credentials) |
 * | POST | `/api/v1/compute` `{kind:"slurm", name, restUrl, sharedDir, partition, ...}` | admin | 201 target |
 * | DELETE | `/api/v1/compute/:name` | admin | 204 |
 * | POST | `/api/v1/datastores` `{name, kind:"directory", path}` or `{name, kind:"blob"}` | admin | 201 |
 * | GET | `/api/v1/datastores`, `/api/v1/datastores/:name` | reader | datastores / one with versions |
 * | POST | `/api/v1/datastores/:name/versions` `{files}` | writer | 201 new / 200 same files |
 */
export function computeRoutes(deps: {
  service: ComputeService;
  logger: Logger;
  maxUploadBytes: number;
}): Hono {
  const app = new Hono();
  const svc = deps.service;
  app.onError((err, c) => {
    const known = asServerError(err);
    if (known) return serverErrorResponse(c, known);
    deps.logger.error("compute request failed", {
      method: c.req.method,
      path: c.req.path,
      error: String(err).slice(0, 500),
    });
    return c.json({ code: ServerErrorCode.INTERNAL, message: "Internal server error", details: {} }, 500);
  });

  async function body<T>(c: Context, schema: z.ZodType<T>, example: string): Promise<T> {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new ServerError(ServerErrorCode.BAD_REQUEST, `Expected a JSON request body like ${example}`);
    }
    const r = schema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      const setting = i ? i.path.map(String).join(".") || "(root)" : "(root)";
      // never echo a token back
      const shown =
        typeof raw === "object" && raw !== null && "token" in raw ? { ...raw, token: "***" } : raw;
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Invalid request body: ${setting}: ${i?.message ?? "rejected"}. Expected e.g. ${example}; received ${preview(shown)}`,
        { details: { setting } },
      );
    }
    return r.data;
  }

  app.get("/api/v1/compute", async (c) => {
    const a = await authenticate(c, "reader");
    const attached = await svc.store.listTargets(a.workspaceId);
    return c.json({ items: [...BUILT_IN_TARGETS.map(builtInView), ...attached.map(targetView)] });
  });

  app.get("/api/v1/compute/:name", async (c) => {
    const a = await authenticate(c, "reader");
    const name = c.req.param("name");
    if ((BUILT_IN_TARGETS as readonly string[]).includes(name))
      return c.json(builtInView(name as (typeof BUILT_IN_TARGETS)[number]));
    const t = await svc.target(a.workspaceId, name);
    if (!t)
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No compute target ${preview(name)} in this workspace`,
      );
    return c.json(targetView(t));
  });

  app.post("/api/v1/compute", async (c) => {
    const a = await authenticate(c, "admin");
    const b = await body(
      c,
      AttachSlurmSchema,
      '{"kind":"slurm","name":"gpu-cluster","restUrl":"unix:/run/slurmrestd.sock","sharedDir":"/shared/mlenv","partition":"gpu"}',
    );
    const t = await svc.attach(a.workspaceId, a.name, b);
    deps.logger.info("compute target attached", { workspace: a.workspaceName, target: t.name, kind: t.kind });
    return c.json(targetView(t), 201);
  });

  app.delete("/api/v1/compute/:name", async (c) => {
    const a = await authenticate(c, "admin");
    const name = c.req.param("name");
    if ((BUILT_IN_TARGETS as readonly string[]).includes(name)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected an attached target; "${name}" is built in and cannot be detached`,
      );
    }
    if (!(await svc.detach(a.workspaceId, name)))
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No compute target ${preview(name)} in this workspace`,
      );
    deps.logger.info("compute target detached", { workspace: a.workspaceName, target: name });
    return c.body(null, 204);
  });

  app.post("/api/v1/datastores", async (c) => {
    const a = await authenticate(c, "admin");
    const b = await body(
      c,
      CreateDatastoreSchema,
      '{"name":"images","kind":"directory","path":"/shared/data/images"}',
    );
    const d = await svc.createDatastore(a.workspaceId, a.name, b);
    return c.json(datastoreView(d), 201);
  });

  app.get("/api/v1/datastores", async (c) => {
    const a = await authenticate(c, "reader");
    return c.json({ items: (await svc.store.listDatastores(a.workspaceId)).map(datastoreView) });
  });

  app.get("/api/v1/datastores/:name", async (c) => {
    const a = await authenticate(c, "reader");
    const d = await svc.datastore(a.workspaceId, c.req.param("name"));
    return c.json({ ...datastoreView(d), versions: await svc.store.listVersions(a.workspaceId, d.name) });
  });

  const limit = bodyLimit({
    maxSize: Math.ceil(deps.maxUploadBytes * 1.4) + 1024 * 1024,
    onError: (c) =>
      c.json(
        new ServerError(
          ServerErrorCode.TOO_LARGE,
          `Expected a datastore upload of at most ${deps.maxUploadBytes} bytes; the request body is larger`,
          { details: { maxBytes: deps.maxUploadBytes } },
        ).toJSON(),
        413,
      ),
  });
  app.post("/api/v1/datastores/:name/versions", limit, async (c) => {
    const a = await authenticate(c, "writer");
    const b = await body(c, UploadSchema, '{"files":[{"path":"train.csv","content":"<base64>"}]}');
    const out = await svc.uploadVersion(a.workspaceId, a.name, c.req.param("name"), b.files);
    return c.json(out, out.created ? 201 : 200);
  });

  return app;
}

/** The routes of {@link computeRoutes} for /openapi.json. */
export const computeRouteDocs: readonly RouteDoc[] = [
  {
    method: "get",
    path: "/api/v1/compute",
    summary: "List compute targets: local and docker, then the attached ones (credentials never shown)",
    role: "reader",
    responses: { 200: z.object({ items: z.array(ComputeTargetView) }) },
  },
  {
    method: "get",
    path: "/api/v1/compute/{name}",
    summary: "One compute target",
    role: "reader",
    responses: { 200: ComputeTargetView },
  },
  {
    method: "post",
    path: "/api/v1/compute",
    summary:
      "Attach a Slurm cluster (validated: the REST endpoint answers, the partition exists); a token is kept as a workspace secret",
    role: "admin",
    body: AttachSlurmSchema,
    responses: { 201: ComputeTargetView },
  },
  {
    method: "delete",
    path: "/api/v1/compute/{name}",
    summary: "Detach a compute target (runs already submitted keep being followed)",
    role: "admin",
    responses: { 204: null },
  },
  {
    method: "post",
    path: "/api/v1/datastores",
    summary: "Create a datastore: a directory every target reaches, or versioned uploads to the blob store",
    role: "admin",
    body: CreateDatastoreSchema,
    responses: { 201: DatastoreView },
  },
  {
    method: "get",
    path: "/api/v1/datastores",
    summary: "List datastores",
    role: "reader",
    responses: { 200: z.object({ items: z.array(DatastoreView) }) },
  },
  {
    method: "get",
    path: "/api/v1/datastores/{name}",
    summary: "One datastore with its versions",
    role: "reader",
    responses: { 200: DatastoreView.extend({ versions: z.array(DatastoreVersionView) }) },
  },
  {
    method: "post",
    path: "/api/v1/datastores/{name}/versions",
    summary: "Upload a version of a blob datastore (files base64; same files answer the existing version)",
    role: "writer",
    body: UploadSchema,
    responses: {
      200: z.object({ created: z.boolean(), version: DatastoreVersionView }),
      201: z.object({ created: z.boolean(), version: DatastoreVersionView }),
    },
  },
];
