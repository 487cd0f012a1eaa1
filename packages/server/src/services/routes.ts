import { services as Sv } from "@mlenv/api";
import { Hono } from "hono";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { tooLargeLimit } from "../http/bodyLimit";
import { logChange, mount } from "../http/mount";
import { workspaceView } from "../http/view";
import { logsAnswer } from "../runs/logEvents";
import { type RunRoutesDeps, submittedCode } from "../runs/routes";
import type { ServiceRecord } from "../runs/runStore";
import type { AuthenticatedToken } from "../store/types";

const { MAX_SCORE_REQUEST_BYTES } = Sv;

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

const serviceView = workspaceView<ServiceRecord>;

/** HTTP routes of web services (deploy, list, logs, score through the server, delete), as declared in @mlenv/api. */
export function serviceRoutes(deps: RunRoutesDeps): Hono {
  const app = new Hono();
  const store = deps.runs.store;

  async function serviceOf(a: AuthenticatedToken, name: string): Promise<ServiceRecord> {
    const s = await store.findService(a.workspaceId, name);
    if (!s) throw new ServerError(ServerErrorCode.NOT_FOUND, `No service ${preview(name)} in this workspace`);
    return s;
  }
  const log = { logger: deps.logger };

  mount(
    app,
    Sv.deployService,
    async ({ c, auth: a, body: b }) => {
      // the body names the service and its code; the code is submitted as the caller's
      const s = await deps.services.deploy({ ...b, ...(await submittedCode(deps, a, b)) });
      logChange(deps.logger, a, "service deployed", { service: s.name });
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
    return logsAnswer(c, query, {
      store,
      ownerId: s.id,
      status: s.status,
      // a service ends when it fails or is deleted (by id: a new one may take its name)
      state: async () => {
        const now = (await store.getService(s.id)) ?? { ...s, status: "deleted" as const };
        return now.status === "failed" || now.status === "deleted"
          ? { final: true, view: serviceView(now) }
          : { final: false };
      },
    });
  });

  // Scoring is a read of the workspace's services (it changes no record): a reader token may score.
  const scoreLimit = tooLargeLimit({
    maxSize: MAX_SCORE_REQUEST_BYTES,
    message: `Expected a scoring request of at most ${MAX_SCORE_REQUEST_BYTES} bytes; the request body is larger`,
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
      logChange(deps.logger, a, "service deleted", { service: params.name });
      return c.body(null, 204);
    },
    log,
  );

  return app;
}
