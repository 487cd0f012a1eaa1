import { models as M, runs as R, services as Sv } from "@mlenv/api";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { blobResponse } from "../blobs/blobResponse";
import type { BlobStore } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { Gpus } from "../gpus/gpus";
import { gpuRequest } from "../gpus/gpus";
import { mount } from "../http/mount";
import type { Logger } from "../logger";
import { registerModel } from "../models/models";
import type { ServiceManager } from "../services/serviceManager";
import type { AuthenticatedToken, Store } from "../store/types";
import { logEventResponse, resumeFrom, wantsEvents } from "./logEvents";
import type { RunManager } from "./runManager";
import type { ModelRecord, RunRecord, ServiceRecord } from "./runStore";
import { readSnapshot, storeSnapshot } from "./snapshot";

const { MAX_SCORE_REQUEST_BYTES } = Sv;

export interface RunRoutesDeps {
  store: Store;
  blobs: BlobStore;
  runs: RunManager;
  services: ServiceManager;
  logger: Logger;
  /** Largest snapshot, in bytes of file content. */
  maxSnapshotBytes: number;
  /** How long `POST /services/:name/score` waits for the worker (default 30 s). */
  scoreTimeoutMs?: number;
  /** This machine's GPUs (`GET /api/v1/gpus`). */
  gpus?: Gpus;
}

/** Largest scoring request and answer relayed by `POST /services/:name/score`. */
export { MAX_SCORE_REQUEST_BYTES };
export const MAX_SCORE_ANSWER_BYTES = 10 * 1024 * 1024;

/** The body of a fetch answer, failing past `max` bytes (the worker is not trusted to be small). */
async function readCapped(res: Response, max: number): Promise<string | null> {
  const reader = res.body?.getReader();
  if (!reader) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function runView(r: RunRecord) {
  const { workspaceId: _w, pid: _p, ...rest } = r;
  return rest;
}
function modelView(m: ModelRecord) {
  const { workspaceId: _w, ...rest } = m;
  return rest;
}
function serviceView(s: ServiceRecord) {
  const { workspaceId: _w, ...rest } = s;
  return rest;
}

/** HTTP routes of runs, models and local web services, as declared in @mlenv/api (runs, models, services). */
export function runRoutes(deps: RunRoutesDeps): Hono {
  const app = new Hono();
  const store = deps.runs.store;

  async function runOf(a: AuthenticatedToken, id: string): Promise<RunRecord> {
    const run = /^[0-9a-f-]{36}$/.test(id) ? await store.getRun(id) : null;
    if (!run || run.workspaceId !== a.workspaceId)
      throw new ServerError(ServerErrorCode.NOT_FOUND, `No run ${preview(id)} in this workspace`);
    return run;
  }

  async function serviceOf(a: AuthenticatedToken, name: string): Promise<ServiceRecord> {
    const s = await store.findService(a.workspaceId, name);
    if (!s) throw new ServerError(ServerErrorCode.NOT_FOUND, `No service ${preview(name)} in this workspace`);
    return s;
  }

  const after = (v: string | undefined) => {
    const n = v === undefined || v === "" ? 0 : Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected ?after= a log sequence number like 42; received ${preview(v)}`,
      );
    return n;
  };

  // Snapshots and model files travel base64 in JSON: allow them past the default 10 MiB limit.
  const uploadLimit = Math.ceil(deps.maxSnapshotBytes * 1.4) + 1024 * 1024;
  const limit = bodyLimit({
    maxSize: uploadLimit,
    onError: (c) =>
      c.json(
        new ServerError(
          ServerErrorCode.TOO_LARGE,
          `Expected a source snapshot of at most ${deps.maxSnapshotBytes} bytes (list large files in .mlenvignore); the request body is larger`,
          { details: { maxBytes: deps.maxSnapshotBytes } },
        ).toJSON(),
        413,
      ),
  });

  const before = { before: [limit], logger: deps.logger };
  const log = { logger: deps.logger };

  mount(
    app,
    R.uploadSnapshot,
    async ({ c, auth: a, body: b }) => {
      const out = await storeSnapshot(deps.blobs, a.workspaceId, b.files, deps.maxSnapshotBytes);
      return c.json({ id: out.id, files: out.manifest.files.length, size: out.size }, 201);
    },
    before,
  );

  mount(
    app,
    R.submitRun,
    async ({ c, auth: a, body: b }) => {
      // Snapshots belong to the workspace that uploaded them: another's answers like a missing one.
      await readSnapshot(deps.blobs, b.snapshot, a.workspaceId);
      const run = await deps.runs.submit({
        workspaceId: a.workspaceId,
        createdBy: a.name,
        experiment: b.experiment,
        script: b.script,
        arguments: b.arguments,
        snapshot: b.snapshot,
        target: b.target,
        environment: b.environment ?? null,
        lock: b.lock,
        ...(b.resources ? { resources: b.resources } : {}),
        gpus: gpuRequest(b.gpus, b.shareGpus),
        ...(b.network ? { network: true } : {}),
      });
      deps.logger.info("run submitted", {
        workspace: a.workspaceName,
        run: run.id,
        experiment: run.experiment,
      });
      return c.json(runView(run), 201);
    },
    log,
  );

  mount(app, R.listGpus, async ({ c }) => {
    const gpus = deps.gpus;
    if (!gpus)
      return c.json({ devices: [], cuda: null, cudaSource: "none", reason: "no GPU support configured" });
    const inv = await gpus.refresh();
    return c.json({
      devices: inv.devices.map((d) => ({ ...d, held: gpus.allocator.holders(d.index) })),
      cuda: inv.cuda,
      cudaSource: inv.cudaSource,
      reason: inv.reason,
    });
  });

  mount(app, R.listRuns, async ({ c, auth: a, query: { experiment } }) => {
    const items = await store.listRuns({ workspaceId: a.workspaceId, ...(experiment ? { experiment } : {}) });
    return c.json({ items: items.map(runView) });
  });

  mount(app, R.getRun, async ({ c, auth, params }) => c.json(runView(await runOf(auth, params.id))));

  mount(app, R.runLogs, async ({ c, auth, params, query }) => {
    const run = await runOf(auth, params.id);
    const from = after(query.after);
    if (wantsEvents(c.req.header("accept"), query.follow)) {
      return logEventResponse({
        store,
        ownerId: run.id,
        afterSeq: resumeFrom(c.req.header("last-event-id"), from),
        signal: c.req.raw.signal,
        state: async () => {
          const now = await store.getRun(run.id);
          if (!now) return { final: true, view: runView({ ...run, status: "canceled" }) };
          return R.isFinalRunStatus(now.status) ? { final: true, view: runView(now) } : { final: false };
        },
      });
    }
    // read the status first: a final status means every line is already written
    const items = await store.logs(run.id, from);
    return c.json({ items, status: run.status, next: items.at(-1)?.seq ?? from });
  });

  mount(app, R.runMetrics, async ({ c, auth, params }) => {
    const run = await runOf(auth, params.id);
    return c.json({ items: await store.metrics(run.id) });
  });

  mount(app, R.runArtifact, async ({ c, auth, params, query }) => {
    const run = await runOf(auth, params.id);
    const path = query.path ?? "";
    const art = run.artifacts.find((x) => x.path === path);
    const blob = art ? await deps.blobs.read(art.digest) : null;
    if (!blob)
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `Run ${run.id} has no artifact ${preview(path)}; it has ${preview(run.artifacts.map((x) => x.path))}`,
      );
    // streamed from the blob store, with Range support (artifacts may be large)
    return blobResponse(c, blob, { "content-type": "application/octet-stream", etag: `"${art!.digest}"` });
  });

  mount(
    app,
    R.cancelRun,
    async ({ c, auth, params }) => {
      const run = await runOf(auth, params.id);
      const after = await deps.runs.cancel(run.id);
      return c.json(runView(after ?? run));
    },
    log,
  );

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

  mount(
    app,
    Sv.deployService,
    async ({ c, auth: a, body: b }) => {
      await readSnapshot(deps.blobs, b.snapshot, a.workspaceId);
      const s = await deps.services.deploy({
        workspaceId: a.workspaceId,
        createdBy: a.name,
        name: b.name,
        target: b.target,
        deploymentConfig: b.deploymentConfig,
        model: b.model,
        entryScript: b.entryScript,
        snapshot: b.snapshot,
        environment: b.environment ?? null,
        lock: b.lock,
      });
      deps.logger.info("service deployed", { workspace: a.workspaceName, service: s.name });
      return c.json(serviceView(s), 201);
    },
    log,
  );

  mount(app, Sv.listServices, async ({ c, auth: a }) =>
    c.json({ items: (await store.listServices(a.workspaceId)).map(serviceView) }),
  );

  mount(app, Sv.getService, async ({ c, auth, params }) =>
    c.json(serviceView(await serviceOf(auth, params.name))),
  );

  mount(app, Sv.serviceLogs, async ({ c, auth, params, query }) => {
    const s = await serviceOf(auth, params.name);
    const from = after(query.after);
    if (wantsEvents(c.req.header("accept"), query.follow)) {
      return logEventResponse({
        store,
        ownerId: s.id,
        afterSeq: resumeFrom(c.req.header("last-event-id"), from),
        signal: c.req.raw.signal,
        // a service ends when it fails or is deleted (by id: a new one may take its name)
        state: async () => {
          const now = (await store.getService(s.id)) ?? { ...s, status: "deleted" as const };
          return now.status === "failed" || now.status === "deleted"
            ? { final: true, view: serviceView(now) }
            : { final: false };
        },
      });
    }
    const items = await store.logs(s.id, from);
    return c.json({ items, status: s.status, next: items.at(-1)?.seq ?? from });
  });

  // Scoring is a read of the workspace's services (it changes no record): a reader token may score.
  const scoreLimit = bodyLimit({
    maxSize: MAX_SCORE_REQUEST_BYTES,
    onError: (c) =>
      c.json(
        new ServerError(
          ServerErrorCode.TOO_LARGE,
          `Expected a scoring request of at most ${MAX_SCORE_REQUEST_BYTES} bytes; the request body is larger`,
          { details: { maxBytes: MAX_SCORE_REQUEST_BYTES } },
        ).toJSON(),
        413,
      ),
  });
  mount(
    app,
    Sv.scoreService,
    async ({ c, auth: a, params }) => {
      // the body is read before the service is looked up: answering (404) with the body unread
      // makes Node close the connection under a client still sending it ("other side closed")
      const text = await c.req.text();
      const s = await serviceOf(a, params.name);
      try {
        JSON.parse(text);
      } catch {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected a JSON scoring request like {"data": [1, 2]}; received ${preview(text)}`,
        );
      }
      if (s.status !== "healthy" || !s.url) {
        throw new ServerError(
          ServerErrorCode.CONFLICT,
          `Service ${s.name} is ${s.status}; it takes scoring requests once healthy (see mlenv service logs ${s.name})`,
          { details: { status: s.status } },
        );
      }
      const timeoutMs = deps.scoreTimeoutMs ?? 30_000;
      let answer: Response;
      let raw: string | null;
      try {
        answer = await fetch(`${s.url}/score`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(await deps.services.workerHeaders(s.id)) },
          body: text,
          signal: AbortSignal.timeout(timeoutMs),
        });
        raw = await readCapped(answer, MAX_SCORE_ANSWER_BYTES);
      } catch (cause) {
        const timedOut = (cause as { name?: string }).name === "TimeoutError";
        throw new ServerError(
          ServerErrorCode.SERVICE_UNREACHABLE,
          timedOut
            ? `Service ${s.name} did not answer within ${timeoutMs} ms`
            : `Service ${s.name} did not answer at its /score (${String(cause).slice(0, 200)}); see mlenv service logs ${s.name}`,
          { cause },
        );
      }
      if (raw === null) {
        throw new ServerError(
          ServerErrorCode.SERVICE_UNREACHABLE,
          `Service ${s.name} answered more than ${MAX_SCORE_ANSWER_BYTES} bytes`,
        );
      }
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        throw new ServerError(
          ServerErrorCode.SERVICE_UNREACHABLE,
          `Expected JSON from service ${s.name}; it answered HTTP ${answer.status} ${preview(raw)}`,
        );
      }
      const status = answer.status >= 200 && answer.status <= 599 ? answer.status : 502;
      return c.json(json as object, status as 200);
    },
    { before: [scoreLimit] },
  );

  mount(
    app,
    Sv.deleteService,
    async ({ c, auth: a, params }) => {
      await deps.services.delete(await serviceOf(a, params.name));
      deps.logger.info("service deleted", { workspace: a.workspaceName, service: params.name });
      return c.body(null, 204);
    },
    log,
  );

  return app;
}
