import type { z } from "zod";
import { itemsOf, LogsQuerySchema, LogsSchema } from "./common";
import type { Role, RoleRoutes, RouteOptions } from "./route";

/** `/api/v1/runs/{id}` → `/api/v1/runs`: the path of the collection an item lives in. */
type ParentPath<P extends string> = P extends `${infer Head}/${infer Tail}`
  ? Tail extends `${string}/${string}`
    ? `${Head}/${ParentPath<Tail>}`
    : Head
  : never;

/** What a family route declares besides its summary and answer (a query, or a body and its example). */
type Extra = Partial<Omit<RouteOptions, "summary" | "responses">>;

/** No more than the summary and answer. */
type NoExtra = Record<never, never>;

/** What a body-taking family route declares besides its summary: the body and its example at least. */
type BodyExtra = Extra & Required<Pick<RouteOptions, "body" | "bodyExample">>;

/** How a log route is described: whose lines they are and what its final `end` event carries. */
export interface LogsDescription {
  /** The summary's opening words, e.g. `Service log lines`. */
  lines: string;
  /** What the one `end` event carries, and when, e.g. `the run when it is final`. */
  end: string;
}

/**
 * The routes of one kind of thing kept at `itemPath` (e.g. `/api/v1/services/{name}`), all
 * answering its schema: the list of them (`{ items: [item] }` at the parent path), one of them
 * (`detail`, when one is shown with more than a list item), creating, replacing and deleting one,
 * an action on one (`POST {itemPath}/cancel`) and its log.
 * Each builder takes the role's routes (`reader`, `writer`, ...), the summary and what else the
 * route declares; the declarations stay one export per route.
 */
export function resource<const P extends string, const S extends z.ZodType, const D extends z.ZodType = S>(
  itemPath: P,
  item: S,
  detail?: D,
) {
  const listPath = itemPath.slice(0, itemPath.lastIndexOf("/")) as ParentPath<P>;
  const one = (detail ?? item) as D;
  return {
    /** `GET` the collection: `{ items: [item] }`. */
    list: <R extends Role | null, const E extends Extra = NoExtra>(
      roles: RoleRoutes<R>,
      summary: string,
      extra = {} as E,
    ) => roles.get(listPath, { summary, ...extra, responses: { 200: itemsOf(item) } }),

    /** `GET` one: its detail. */
    get: <R extends Role | null, const E extends Extra = NoExtra>(
      roles: RoleRoutes<R>,
      summary: string,
      extra = {} as E,
    ) => roles.get(itemPath, { summary, ...extra, responses: { 200: one } }),

    /** `POST` the collection a new one: 201 with it. */
    create: <R extends Role | null, const E extends BodyExtra>(
      roles: RoleRoutes<R>,
      summary: string,
      extra: E,
    ) => roles.post(listPath, { summary, ...extra, responses: { 201: item } }),

    /** `PUT` one (created or moved): 200 with it. */
    put: <R extends Role | null, const E extends BodyExtra>(
      roles: RoleRoutes<R>,
      summary: string,
      extra: E,
    ) => roles.put(itemPath, { summary, ...extra, responses: { 200: item } }),

    /** `POST {itemPath}/{name}`: an action on one, answering it as it is now. */
    action: <R extends Role | null, const N extends string, const E extends Extra = NoExtra>(
      roles: RoleRoutes<R>,
      name: N,
      summary: string,
      extra = {} as E,
    ) => roles.post(`${itemPath}/${name}`, { summary, ...extra, responses: { 200: item } }),

    /** `DELETE` one: 204. */
    delete: <R extends Role | null>(roles: RoleRoutes<R>, summary: string) =>
      roles.delete(itemPath, { summary, responses: { 204: null } }),

    /**
     * `GET {itemPath}/logs`: JSON pages of log lines after ?after=, or server-sent events with
     * ?follow=1 (or Accept: text/event-stream), ending in one `end` event; `status` is the
     * schema of the item's status, answered with the lines.
     */
    logs: <R extends Role | null, const T extends z.ZodType>(
      roles: RoleRoutes<R>,
      status: T,
      { lines, end }: LogsDescription,
    ) =>
      roles.get(`${itemPath}/logs`, {
        summary: `${lines} after ?after=seq; with Accept: text/event-stream or ?follow=1 server-sent events (\`log\` events with id = seq, Last-Event-ID resumes, one \`end\` event carrying ${end})`,
        query: LogsQuerySchema,
        responses: { 200: LogsSchema.extend({ status }) },
      }),
  };
}
