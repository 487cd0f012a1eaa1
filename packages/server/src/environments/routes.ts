import { common, environments as E } from "@mlenv/api";
import { Hono } from "hono";
import { requireServerAdmin } from "../auth";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { logChange, mounter } from "../http/mount";
import type { Logger } from "../logger";
import type { AuthenticatedToken, Store } from "../store/types";
import type { Registry } from "./registry";

const ARCHIVED = { false: "exclude", true: "include", only: "only" } as const;

/** The environment registry's routes: workspaces, tokens, environments, versions, labels. */
export function registryRoutes(registry: Registry, store: Store, logger: Logger): Hono {
  const app = new Hono();
  // every registry route is logged (writes at info, reads at debug)
  const route = mounter(app, { logger });
  const ws = (a: AuthenticatedToken) => a.workspaceId;
  const versionOf = (raw: string, example: string): number => {
    const r = common.PositiveIntText.safeParse(raw);
    if (r.success) return r.data;
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Invalid version: ${r.error.issues[0]?.message ?? "rejected"}. Expected e.g. ${example}; received ${preview(raw)}`,
      { details: { issues: r.error.issues.map((i) => ({ path: "version", message: i.message })) } },
    );
  };

  route(E.whoami, ({ c, auth }) =>
    c.json({ workspace: auth.workspaceName, role: auth.role, tokenId: auth.id, tokenName: auth.name }),
  );
  route(E.createWorkspace, async ({ c, auth, body }) => {
    requireServerAdmin(auth);
    const { workspace, adminToken } = await registry.createWorkspace(body.name);
    logger.info("workspace created", { workspace: workspace.name });
    return c.json({ workspace: { name: workspace.name, createdAt: workspace.createdAt }, adminToken }, 201);
  });
  route(E.listTokens, async ({ c, auth }) => {
    const items = await store.listTokens(ws(auth));
    return c.json({
      items: items.map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: t.createdAt })),
    });
  });
  route(E.createToken, async ({ c, auth, body }) => {
    const { record, token } = await registry.createToken(ws(auth), body.name, body.role);
    logChange(logger, auth, "token created", { tokenId: record.id, role: record.role });
    return c.json(
      { id: record.id, name: record.name, role: record.role, createdAt: record.createdAt, token },
      201,
    );
  });
  route(E.revokeToken, async ({ c, auth, params }) => {
    await registry.revokeToken(ws(auth), params.id);
    return c.body(null, 204);
  });
  route(E.registerEnvironment, async ({ c, auth, body }) => {
    const out = await registry.register(ws(auth), body.definition, auth.name, body.lock);
    if (out.created) {
      logChange(logger, auth, "environment registered", {
        name: out.environment.name,
        version: out.environment.version,
      });
    }
    return c.json(out, out.created ? 201 : 200);
  });
  route(E.listEnvironments, async ({ c, auth, query: q }) =>
    c.body(
      await registry.listJson({
        workspaceId: ws(auth),
        prefix: q.prefix,
        tag: q.tag,
        cursor: q.cursor,
        limit: q.limit ?? 50,
        archived: ARCHIVED[q.archived ?? "false"],
      }),
      200,
      { "content-type": "application/json" },
    ),
  );
  route(E.getEnvironment, async ({ c, auth, params, query: q }) => {
    if (q.version !== undefined && q.label !== undefined) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        "Expected at most one of ?version= and ?label=, e.g. ?label=production; received both",
        { details: { version: q.version, label: preview(q.label) } },
      );
    }
    return c.json(await registry.get(ws(auth), params.name, q));
  });
  route(E.environmentHistory, async ({ c, auth, params }) =>
    c.json(await registry.history(ws(auth), params.name)),
  );
  route(E.getEnvironmentVersion, async ({ c, auth, params }) => {
    const version = versionOf(params.version, "/versions/3");
    return c.json(await registry.get(ws(auth), params.name, { version }));
  });
  route(E.getEnvironmentLock, async ({ c, auth, params }) => {
    const version = versionOf(params.version, "/versions/3/lock");
    return c.json(await registry.getLock(ws(auth), params.name, version));
  });
  route(E.diffEnvironment, async ({ c, auth, params, query: q }) =>
    c.json(await registry.diff(ws(auth), params.name, q.from, q.to)),
  );
  route(E.listLabels, async ({ c, auth, params }) =>
    c.json({ items: await registry.listLabels(ws(auth), params.name) }),
  );
  route(E.setLabel, async ({ c, auth, params, body }) =>
    c.json(await registry.setLabel(ws(auth), params.name, params.label, body.version)),
  );
  route(E.deleteLabel, async ({ c, auth, params }) => {
    await registry.deleteLabel(ws(auth), params.name, params.label);
    return c.body(null, 204);
  });
  route(E.archiveEnvironment, async ({ c, auth, params }) =>
    c.json(await registry.setArchived(ws(auth), params.name, true)),
  );
  route(E.restoreEnvironment, async ({ c, auth, params }) =>
    c.json(await registry.setArchived(ws(auth), params.name, false)),
  );
  route(E.cloneEnvironment, async ({ c, auth, params, body }) => {
    const out = await registry.clone(
      ws(auth),
      params.name,
      body.newName,
      { version: body.version, label: body.label },
      auth.name,
    );
    return c.json(out, 201);
  });
  return app;
}
