import { common, environments as E } from "@mlenv/api";
import { Hono } from "hono";
import { requireServerAdmin } from "../auth";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { mount } from "../http/mount";
import type { Logger } from "../logger";
import type { AuthenticatedToken, Store } from "../store/types";
import type { Registry } from "./registry";

const ARCHIVED = { false: "exclude", true: "include", only: "only" } as const;

/** The environment registry's routes: workspaces, tokens, environments, versions, labels. */
export function registryRoutes(registry: Registry, store: Store, logger: Logger): Hono {
  const app = new Hono();
  const log = { logger };
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

  mount(
    app,
    E.whoami,
    ({ c, auth }) =>
      c.json({ workspace: auth.workspaceName, role: auth.role, tokenId: auth.id, tokenName: auth.name }),
    log,
  );
  mount(
    app,
    E.createWorkspace,
    async ({ c, auth, body }) => {
      requireServerAdmin(auth);
      const { workspace, adminToken } = await registry.createWorkspace(body.name);
      logger.info("workspace created", { workspace: workspace.name });
      return c.json({ workspace: { name: workspace.name, createdAt: workspace.createdAt }, adminToken }, 201);
    },
    log,
  );
  mount(
    app,
    E.listTokens,
    async ({ c, auth }) => {
      const items = await store.listTokens(ws(auth));
      return c.json({
        items: items.map((t) => ({ id: t.id, name: t.name, role: t.role, createdAt: t.createdAt })),
      });
    },
    log,
  );
  mount(
    app,
    E.createToken,
    async ({ c, auth, body }) => {
      const { record, token } = await registry.createToken(ws(auth), body.name, body.role);
      logger.info("token created", { workspace: auth.workspaceName, tokenId: record.id, role: record.role });
      return c.json(
        { id: record.id, name: record.name, role: record.role, createdAt: record.createdAt, token },
        201,
      );
    },
    log,
  );
  mount(
    app,
    E.revokeToken,
    async ({ c, auth, params }) => {
      await registry.revokeToken(ws(auth), params.id);
      return c.body(null, 204);
    },
    log,
  );
  mount(
    app,
    E.registerEnvironment,
    async ({ c, auth, body }) => {
      const out = await registry.register(ws(auth), body.definition, auth.name, body.lock);
      if (out.created) {
        logger.info("environment registered", {
          workspace: auth.workspaceName,
          name: out.environment.name,
          version: out.environment.version,
        });
      }
      return c.json(out, out.created ? 201 : 200);
    },
    log,
  );
  mount(
    app,
    E.listEnvironments,
    async ({ c, auth, query: q }) =>
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
    log,
  );
  mount(
    app,
    E.getEnvironment,
    async ({ c, auth, params, query: q }) => {
      if (q.version !== undefined && q.label !== undefined) {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          "Expected at most one of ?version= and ?label=, e.g. ?label=production; received both",
          { details: { version: q.version, label: preview(q.label) } },
        );
      }
      return c.json(await registry.get(ws(auth), params.name, q));
    },
    log,
  );
  mount(
    app,
    E.environmentHistory,
    async ({ c, auth, params }) => c.json(await registry.history(ws(auth), params.name)),
    log,
  );
  mount(
    app,
    E.getEnvironmentVersion,
    async ({ c, auth, params }) => {
      const version = versionOf(params.version, "/versions/3");
      return c.json(await registry.get(ws(auth), params.name, { version }));
    },
    log,
  );
  mount(
    app,
    E.getEnvironmentLock,
    async ({ c, auth, params }) => {
      const version = versionOf(params.version, "/versions/3/lock");
      return c.json(await registry.getLock(ws(auth), params.name, version));
    },
    log,
  );
  mount(
    app,
    E.diffEnvironment,
    async ({ c, auth, params, query: q }) => c.json(await registry.diff(ws(auth), params.name, q.from, q.to)),
    log,
  );
  mount(
    app,
    E.listLabels,
    async ({ c, auth, params }) => c.json({ items: await registry.listLabels(ws(auth), params.name) }),
    log,
  );
  mount(
    app,
    E.setLabel,
    async ({ c, auth, params, body }) =>
      c.json(await registry.setLabel(ws(auth), params.name, params.label, body.version)),
    log,
  );
  mount(
    app,
    E.deleteLabel,
    async ({ c, auth, params }) => {
      await registry.deleteLabel(ws(auth), params.name, params.label);
      return c.body(null, 204);
    },
    log,
  );
  mount(
    app,
    E.archiveEnvironment,
    async ({ c, auth, params }) => c.json(await registry.setArchived(ws(auth), params.name, true)),
    log,
  );
  mount(
    app,
    E.restoreEnvironment,
    async ({ c, auth, params }) => c.json(await registry.setArchived(ws(auth), params.name, false)),
    log,
  );
  mount(
    app,
    E.cloneEnvironment,
    async ({ c, auth, params, body }) => {
      const out = await registry.clone(
        ws(auth),
        params.name,
        body.newName,
        { version: body.version, label: body.label },
        auth.name,
      );
      return c.json(out, 201);
    },
    log,
  );
  return app;
}
