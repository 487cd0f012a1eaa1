import { runs as R } from "@mlenv/api";
import { Hono } from "hono";
import { blobResponse } from "../blobs/blobResponse";
import type { BlobStore } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type { Gpus } from "../gpus/gpus";
import { gpuRequest } from "../gpus/gpus";
import { base64BodySize, tooLargeLimit } from "../http/bodyLimit";
import { logChange, mount } from "../http/mount";
import { workspaceView } from "../http/view";
import type { Logger } from "../logger";
import type { ServiceManager } from "../services/serviceManager";
import type { AuthenticatedToken, Store } from "../store/types";
import type { CodeSubmission, EnvironmentChoice } from "./environments";
import { logsAnswer } from "./logEvents";
import type { RunManager } from "./runManager";
import type { RunRecord } from "./runStore";
import { readSnapshot, storeSnapshot } from "./snapshot";

/** What the routes of runs, models and services need (one RunSupport serves all three). */
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

/**
 * The body limit of routes whose JSON carries base64 file content (snapshots, model files): past
 * the default 10 MiB, up to the snapshot limit.
 */
export function snapshotUploadLimit(deps: Pick<RunRoutesDeps, "maxSnapshotBytes">) {
  return tooLargeLimit({
    maxSize: base64BodySize(deps.maxSnapshotBytes),
    maxBytes: deps.maxSnapshotBytes,
    message: `Expected a source snapshot of at most ${deps.maxSnapshotBytes} bytes (list large files in .mlenvignore); the request body is larger`,
  });
}

/**
 * The code a run or service request names, submitted by the calling token: its snapshot must be one
 * this workspace uploaded (another workspace's answers like a missing one).
 */
export async function submittedCode(
  deps: Pick<RunRoutesDeps, "blobs">,
  a: AuthenticatedToken,
  b: { snapshot: string; environment?: EnvironmentChoice | undefined; lock?: unknown },
): Promise<CodeSubmission> {
  await readSnapshot(deps.blobs, b.snapshot, a.workspaceId);
  return {
    workspaceId: a.workspaceId,
    createdBy: a.name,
    snapshot: b.snapshot,
    environment: b.environment ?? null,
    lock: b.lock,
  };
}

function runView(r: RunRecord) {
  const { pid: _p, ...rest } = workspaceView(r);
  return rest;
}

/** HTTP routes of runs (snapshots, runs, their logs, metrics and artifacts; GPUs), as declared in @mlenv/api. */
export function runRoutes(deps: RunRoutesDeps): Hono {
  const app = new Hono();
  const store = deps.runs.store;

  async function runOf(a: AuthenticatedToken, id: string): Promise<RunRecord> {
    const run = /^[0-9a-f-]{36}$/.test(id) ? await store.getRun(id) : null;
    if (!run || run.workspaceId !== a.workspaceId)
      throw new ServerError(ServerErrorCode.NOT_FOUND, `No run ${preview(id)} in this workspace`);
    return run;
  }
  const before = { before: [snapshotUploadLimit(deps)], logger: deps.logger };
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
      const run = await deps.runs.submit({
        ...(await submittedCode(deps, a, b)),
        experiment: b.experiment,
        script: b.script,
        arguments: b.arguments,
        target: b.target,
        ...(b.resources ? { resources: b.resources } : {}),
        gpus: gpuRequest(b.gpus, b.shareGpus),
        ...(b.network ? { network: true } : {}),
      });
      logChange(deps.logger, a, "run submitted", { run: run.id, experiment: run.experiment });
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
    // the status is read first: a final status means every line is already written
    const run = await runOf(auth, params.id);
    return logsAnswer(c, query, {
      store,
      ownerId: run.id,
      status: run.status,
      state: async () => {
        const now = await store.getRun(run.id);
        if (!now) return { final: true, view: runView({ ...run, status: "canceled" }) };
        return R.isFinalRunStatus(now.status) ? { final: true, view: runView(now) } : { final: false };
      },
    });
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

  return app;
}
