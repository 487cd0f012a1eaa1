import { compute as C } from "@mlenv/api";
import { Hono } from "hono";
import type { z } from "zod";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { base64BodySize, tooLargeLimit } from "../http/bodyLimit";
import { logChange, mount } from "../http/mount";
import { workspaceView } from "../http/view";
import type { Logger } from "../logger";
import type { ComputeTargetView, DatastoreView } from "./schemas";
import { BUILT_IN_TARGETS, type ComputeService } from "./service";
import type { ComputeTargetRecord, DatastoreRecord } from "./store";

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
  return workspaceView(d);
}

/**
 * Compute targets and datastores of the token's workspace (declared in @mlenv/api `compute`):
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
  const log = { logger: deps.logger };

  mount(app, C.listComputeTargets, async ({ c, auth: a }) => {
    const attached = await svc.store.listTargets(a.workspaceId);
    return c.json({ items: [...BUILT_IN_TARGETS.map(builtInView), ...attached.map(targetView)] });
  });

  mount(app, C.getComputeTarget, async ({ c, auth: a, params: { name } }) => {
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

  mount(
    app,
    C.attachComputeTarget,
    async ({ c, auth: a, body: b }) => {
      const t = await svc.attach(a.workspaceId, a.name, b);
      logChange(deps.logger, a, "compute target attached", { target: t.name, kind: t.kind });
      return c.json(targetView(t), 201);
    },
    log,
  );

  mount(
    app,
    C.detachComputeTarget,
    async ({ c, auth: a, params: { name } }) => {
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
      logChange(deps.logger, a, "compute target detached", { target: name });
      return c.body(null, 204);
    },
    log,
  );

  mount(
    app,
    C.createDatastore,
    async ({ c, auth: a, body: b }) =>
      c.json(datastoreView(await svc.createDatastore(a.workspaceId, a.name, b)), 201),
    log,
  );

  mount(app, C.listDatastores, async ({ c, auth: a }) =>
    c.json({ items: (await svc.store.listDatastores(a.workspaceId)).map(datastoreView) }),
  );

  mount(app, C.getDatastore, async ({ c, auth: a, params }) => {
    const d = await svc.datastore(a.workspaceId, params.name);
    return c.json({ ...datastoreView(d), versions: await svc.store.listVersions(a.workspaceId, d.name) });
  });

  const limit = tooLargeLimit({
    maxSize: base64BodySize(deps.maxUploadBytes),
    maxBytes: deps.maxUploadBytes,
    message: `Expected a datastore upload of at most ${deps.maxUploadBytes} bytes; the request body is larger`,
  });
  mount(
    app,
    C.uploadDatastoreVersion,
    async ({ c, auth: a, params, body: b }) => {
      const out = await svc.uploadVersion(a.workspaceId, a.name, params.name, b.files);
      return c.json(out, out.created ? 201 : 200);
    },
    { before: [limit], logger: deps.logger },
  );

  return app;
}
