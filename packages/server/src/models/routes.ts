import { models as M } from "@mlenv/api";
import { Hono } from "hono";
import { blobResponse } from "../blobs/blobResponse";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { mount } from "../http/mount";
import { workspaceView } from "../http/view";
import { type RunRoutesDeps, snapshotUploadLimit } from "../runs/routes";
import type { ModelRecord } from "../runs/runStore";
import { registerModel } from "./models";

const modelView = workspaceView<ModelRecord>;

/** HTTP routes of registered models (from a run's outputs or uploaded files), as declared in @mlenv/api. */
export function modelRoutes(deps: RunRoutesDeps): Hono {
  const app = new Hono();
  const store = deps.runs.store;
  const before = { before: [snapshotUploadLimit(deps)], logger: deps.logger };

  mount(
    app,
    M.registerModel,
    async ({ c, auth: a, body: b }) => {
      const out = await registerModel({
        store,
        blobs: deps.blobs,
        workspaceId: a.workspaceId,
        createdBy: a.name,
        name: b.name,
        description: b.description,
        fromRun: b.runId !== undefined ? { runId: b.runId, path: b.path ?? "outputs" } : undefined,
        files: b.files,
      });
      return c.json({ created: out.created, model: modelView(out.model) }, out.created ? 201 : 200);
    },
    before,
  );

  mount(app, M.listModels, async ({ c, auth: a, query: { name } }) =>
    c.json({ items: (await store.listModels(a.workspaceId, name || undefined)).map(modelView) }),
  );

  mount(app, M.downloadModelFile, async ({ c, auth: a, params, query }) => {
    const version = Number(params.version);
    const m =
      Number.isSafeInteger(version) && version > 0
        ? await store.getModel(a.workspaceId, params.name, version)
        : null;
    if (!m) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `Model ${preview(params.name)} version ${preview(params.version)} not found`,
      );
    }
    const path = query.path ?? "";
    const file = m.files.find((f) => f.path === path);
    const blob = file ? await deps.blobs.read(file.digest) : null;
    if (!blob) {
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `Model ${m.name} version ${m.version} has no file ${preview(path)}; it has ${preview(m.files.map((f) => f.path))}`,
      );
    }
    return blobResponse(c, blob, { "content-type": "application/octet-stream", etag: `"${file!.digest}"` });
  });

  mount(app, M.getModel, async ({ c, auth: a, params, query: { version: v } }) => {
    const version = v ? Number(v) : undefined;
    if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected ?version= a positive integer like 2; received ${preview(v)}`,
      );
    }
    const m = await store.getModel(a.workspaceId, params.name, version);
    if (!m)
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No model ${preview(params.name)}${version ? ` version ${version}` : ""} in this workspace`,
      );
    return c.json(modelView(m));
  });

  return app;
}
