import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { authenticate } from "../auth";
import { blobResponse } from "../blobs/blobResponse";
import type { BlobStore } from "../blobs/blobStore";
import { DatastoreArgumentSchema, ResourcesSchema } from "../compute/schemas";
import {
  asServerError,
  preview,
  refuseDeepJson,
  ServerError,
  ServerErrorCode,
  serverErrorResponse,
} from "../errors";
import type { Gpus } from "../gpus/gpus";
import { gpuRequest, MAX_GPUS } from "../gpus/gpus";
import type { Logger } from "../logger";
import { registerModel } from "../models/models";
import type { ServiceManager } from "../services/serviceManager";
import type { AuthenticatedToken, Store } from "../store/types";
import type { RunManager } from "./runManager";
import type { ModelRecord, RunRecord, ServiceRecord } from "./runStore";
import { readSnapshot, storeSnapshot } from "./snapshot";

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
export const MAX_SCORE_REQUEST_BYTES = 1024 * 1024;
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

const NUL_FREE = z.string().refine((s) => !s.includes("\u0000"), "must not contain NUL");
const EnvironmentChoiceSchema = z
  .union([
    z.object({
      name: NUL_FREE.min(1).max(255),
      version: z.number().int().positive().optional(),
      label: NUL_FREE.max(63).optional(),
    }),
    z.object({ definition: z.record(z.string(), z.unknown()) }),
  ])
  .nullable()
  .optional();
export const FilesSchema = z
  .array(z.object({ path: NUL_FREE, content: z.string(), executable: z.boolean().optional() }))
  .max(20_000);
export const SubmitSchema = z.object({
  experiment: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/),
  script: NUL_FREE.min(1).max(1024),
  arguments: z
    .array(z.union([NUL_FREE.max(10_000), DatastoreArgumentSchema]))
    .max(1000)
    .default([]),
  snapshot: z.string(),
  /** `local`, `docker` or an attached compute target's name (see /api/v1/compute). */
  target: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected "local", "docker" or a compute target name like "gpu-cluster"')
    .default("local"),
  /** Resources on a compute target (ignored by local and docker). */
  resources: ResourcesSchema.optional(),
  environment: EnvironmentChoiceSchema,
  lock: z.unknown().optional(),
  gpus: z.number().int().min(0).max(MAX_GPUS).optional(),
  shareGpus: z.boolean().optional(),
  /** Network access for the run's code (default none on local and docker). */
  network: z.boolean().optional(),
});
export const ModelSchema = z.object({
  name: NUL_FREE,
  description: NUL_FREE.max(10_000).nullable().optional(),
  runId: z.string().optional(),
  path: NUL_FREE.optional(),
  files: FilesSchema.optional(),
});
export const DeploySchema = z.object({
  name: NUL_FREE,
  target: z.enum(["local", "docker"]).default("local"),
  // bounds are checked by the service manager (one message for API and direct callers)
  deploymentConfig: z
    .object({
      cpuCores: z.number().nullable().optional(),
      memoryGb: z.number().nullable().optional(),
      gpus: z.number().int().min(0).max(MAX_GPUS).nullable().optional(),
      shareGpus: z.boolean().optional(),
    })
    .optional(),
  model: z.object({ name: NUL_FREE, version: z.number().int().positive().optional() }),
  entryScript: NUL_FREE.min(1).max(1024),
  snapshot: z.string(),
  environment: EnvironmentChoiceSchema,
  lock: z.unknown().optional(),
});

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

/**
 * HTTP routes of runs, models and local web services (mount with `app.route("/", runRoutes(deps))`):
 *
 * | method | path | role | answer |
 * |---|---|---|---|
 * | POST | `/api/v1/snapshots` `{files:[{path,content(base64)}]}` | writer | 201 `{id, files, size}` |
 * | POST | `/api/v1/runs` `{experiment, script, snapshot, arguments?, environment?, lock?, target?, gpus?, shareGpus?, network?}` | writer | 201 run (409 `E_GPU_UNAVAILABLE` when the machine has too few GPUs) |
 * | GET | `/api/v1/gpus` | reader | `{devices:[{index,name,uuid,holders}], cuda, cudaSource, reason}` |
 * | GET | `/api/v1/runs` `?experiment=` | reader | `{items}` |
 * | GET | `/api/v1/runs/:id` | reader | run (with `environment`: name, version, hash, definition, lock) |
 * | GET | `/api/v1/runs/:id/logs` `?after=seq` | reader | `{items, status, next}` (poll until final) |
 * | GET | `/api/v1/runs/:id/metrics` | reader | `{items}` |
 * | GET | `/api/v1/runs/:id/artifacts/content` `?path=outputs/x` | reader | the bytes |
 * | POST | `/api/v1/runs/:id/cancel` | writer | run |
 * | POST | `/api/v1/models` `{name, runId, path}` or `{name, files}` | writer | 201/200 `{created, model}` |
 * | GET | `/api/v1/models` `?name=` | reader | `{items}` |
 * | GET | `/api/v1/models/:name` `?version=` | reader | model |
 * | POST | `/api/v1/services` `{name, model, entryScript, snapshot, environment?}` | writer | 201 service |
 * | GET | `/api/v1/services`, `/api/v1/services/:name` | reader | services / one |
 * | GET | `/api/v1/services/:name/logs` `?after=seq` | reader | `{items, next}` |
 * | POST | `/api/v1/services/:name/score` (any JSON, at most 1 MiB) | reader | the service's status and JSON |
 * | DELETE | `/api/v1/services/:name` | writer | 204 |
 */
export function runRoutes(deps: RunRoutesDeps): Hono {
  const app = new Hono();
  const store = deps.runs.store;

  app.onError((err, c) => {
    const known = asServerError(err);
    if (known) return serverErrorResponse(c, known);
    deps.logger.error("run request failed", {
      method: c.req.method,
      path: c.req.path,
      error: String(err).slice(0, 500),
    });
    return c.json({ code: ServerErrorCode.INTERNAL, message: "Internal server error", details: {} }, 500);
  });

  const auth = authenticate;

  async function body<T>(c: Context, schema: z.ZodType<T>, example: string): Promise<T> {
    let raw: unknown;
    try {
      raw = await c.req.json();
    } catch {
      throw new ServerError(ServerErrorCode.BAD_REQUEST, `Expected a JSON request body like ${example}`);
    }
    refuseDeepJson(raw);
    const r = schema.safeParse(raw);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Invalid request body: ${i ? `${i.path.map(String).join(".") || "(root)"}: ${i.message}` : "rejected"}. Expected e.g. ${example}; received ${preview(raw)}`,
      );
    }
    return r.data;
  }

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

  const after = (c: Context) => {
    const v = c.req.query("after");
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

  app.post("/api/v1/snapshots", limit, async (c) => {
    const a = await auth(c, "writer");
    const b = await body(
      c,
      z.object({ files: FilesSchema }),
      '{"files":[{"path":"train.py","content":"<base64>"}]}',
    );
    const out = await storeSnapshot(deps.blobs, a.workspaceId, b.files, deps.maxSnapshotBytes);
    return c.json({ id: out.id, files: out.manifest.files.length, size: out.size }, 201);
  });

  app.post("/api/v1/runs", async (c) => {
    const a = await auth(c, "writer");
    const b = await body(
      c,
      SubmitSchema,
      '{"experiment":"demo","script":"train.py","snapshot":"sha256:…","environment":{"name":"my-env"}}',
    );
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
  });

  app.get("/api/v1/gpus", async (c) => {
    await auth(c, "reader");
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

  app.get("/api/v1/runs", async (c) => {
    const a = await auth(c, "reader");
    const experiment = c.req.query("experiment");
    const items = await store.listRuns({ workspaceId: a.workspaceId, ...(experiment ? { experiment } : {}) });
    return c.json({ items: items.map(runView) });
  });

  app.get("/api/v1/runs/:id", async (c) =>
    c.json(runView(await runOf(await auth(c, "reader"), c.req.param("id")))),
  );

  app.get("/api/v1/runs/:id/logs", async (c) => {
    const run = await runOf(await auth(c, "reader"), c.req.param("id"));
    const from = after(c);
    // read the status first: a final status means every line is already written
    const items = await store.logs(run.id, from);
    return c.json({ items, status: run.status, next: items.at(-1)?.seq ?? from });
  });

  app.get("/api/v1/runs/:id/metrics", async (c) => {
    const run = await runOf(await auth(c, "reader"), c.req.param("id"));
    return c.json({ items: await store.metrics(run.id) });
  });

  app.get("/api/v1/runs/:id/artifacts/content", async (c) => {
    const run = await runOf(await auth(c, "reader"), c.req.param("id"));
    const path = c.req.query("path") ?? "";
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

  app.post("/api/v1/runs/:id/cancel", async (c) => {
    const run = await runOf(await auth(c, "writer"), c.req.param("id"));
    const after = await deps.runs.cancel(run.id);
    return c.json(runView(after ?? run));
  });

  app.post("/api/v1/models", limit, async (c) => {
    const a = await auth(c, "writer");
    const b = await body(c, ModelSchema, '{"name":"my-model","runId":"…","path":"outputs/model.json"}');
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
  });

  app.get("/api/v1/models", async (c) => {
    const a = await auth(c, "reader");
    const name = c.req.query("name");
    return c.json({ items: (await store.listModels(a.workspaceId, name || undefined)).map(modelView) });
  });

  app.get("/api/v1/models/:name", async (c) => {
    const a = await auth(c, "reader");
    const v = c.req.query("version");
    const version = v ? Number(v) : undefined;
    if (version !== undefined && !(Number.isSafeInteger(version) && version > 0)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected ?version= a positive integer like 2; received ${preview(v)}`,
      );
    }
    const m = await store.getModel(a.workspaceId, c.req.param("name"), version);
    if (!m)
      throw new ServerError(
        ServerErrorCode.NOT_FOUND,
        `No model ${preview(c.req.param("name"))}${version ? ` version ${version}` : ""} in this workspace`,
      );
    return c.json(modelView(m));
  });

  app.post("/api/v1/services", async (c) => {
    const a = await auth(c, "writer");
    const b = await body(
      c,
      DeploySchema,
      '{"name":"scoring","model":{"name":"my-model"},"entryScript":"score.py","snapshot":"sha256:…","environment":{"name":"my-env"}}',
    );
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
  });

  app.get("/api/v1/services", async (c) => {
    const a = await auth(c, "reader");
    return c.json({ items: (await store.listServices(a.workspaceId)).map(serviceView) });
  });

  app.get("/api/v1/services/:name", async (c) =>
    c.json(serviceView(await serviceOf(await auth(c, "reader"), c.req.param("name")))),
  );

  app.get("/api/v1/services/:name/logs", async (c) => {
    const s = await serviceOf(await auth(c, "reader"), c.req.param("name"));
    const from = after(c);
    const items = await store.logs(s.id, from);
    return c.json({ items, status: s.status, next: items.at(-1)?.seq ?? from });
  });

  // Scoring is a read of the workspace's services (it changes no record): a reader token may score.
  app.post(
    "/api/v1/services/:name/score",
    bodyLimit({
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
    }),
    async (c) => {
      const a = await auth(c, "reader");
      // the body is read before the service is looked up: answering (404) with the body unread
      // makes Node close the connection under a client still sending it ("other side closed")
      const text = await c.req.text();
      const s = await serviceOf(a, c.req.param("name"));
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
  );

  app.delete("/api/v1/services/:name", async (c) => {
    const a = await auth(c, "writer");
    await deps.services.delete(await serviceOf(a, c.req.param("name")));
    deps.logger.info("service deleted", { workspace: a.workspaceName, service: c.req.param("name") });
    return c.body(null, 204);
  });

  return app;
}
