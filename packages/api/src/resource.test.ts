import { describe, expect, it } from "vitest";
import { z } from "zod";
import { LogsQuerySchema } from "./common";
import { resource } from "./resource";
import { admin, reader, writer } from "./route";

const Thing = z.object({ name: z.string(), status: z.enum(["up", "down"]) });
const ThingDetail = Thing.extend({ history: z.array(z.string()) });
const thing = resource("/api/v1/workspaces/{ws}/things/{name}", Thing, ThingDetail);

describe("resource", () => {
  it("lists at the parent path and answers { items: [item] }", () => {
    const list = thing.list(reader, "List things", { query: z.object({ prefix: z.string().optional() }) });
    expect(list).toMatchObject({ method: "get", path: "/api/v1/workspaces/{ws}/things", role: "reader" });
    expect(Object.keys(list)).toEqual(["method", "path", "role", "summary", "query", "responses"]);
    expect(list.responses[200].parse({ items: [{ name: "a", status: "up" }] }).items).toHaveLength(1);
  });

  it("gets one as its detail, creates, replaces and deletes at the item path", () => {
    expect(thing.get(reader, "One thing").responses[200]).toBe(ThingDetail);
    const body = z.object({ name: z.string() });
    const created = thing.create(writer, "Create a thing", { body, bodyExample: '{"name":"a"}' });
    expect(created).toMatchObject({ method: "post", path: "/api/v1/workspaces/{ws}/things", body });
    expect(created.responses[201]).toBe(Thing);
    const put = thing.put(writer, "Replace a thing", { body, bodyExample: '{"name":"a"}' });
    expect(put).toMatchObject({ method: "put", path: "/api/v1/workspaces/{ws}/things/{name}" });
    expect(put.responses[200]).toBe(Thing);
    expect(thing.delete(admin, "Delete a thing")).toEqual({
      method: "delete",
      path: "/api/v1/workspaces/{ws}/things/{name}",
      role: "admin",
      summary: "Delete a thing",
      responses: { 204: null },
    });
  });

  it("posts actions below the item and answers the item", () => {
    const stop = thing.action(writer, "stop", "Stop a thing");
    expect(stop).toMatchObject({ method: "post", path: "/api/v1/workspaces/{ws}/things/{name}/stop" });
    expect(stop.responses[200]).toBe(Thing);
  });

  it("describes the log route's paging and events, with the item's statuses", () => {
    const logs = thing.logs(reader, Thing.shape.status, {
      lines: "Thing log lines",
      end: "the thing when it stops",
    });
    expect(logs.path).toBe("/api/v1/workspaces/{ws}/things/{name}/logs");
    expect(logs.query).toBe(LogsQuerySchema);
    expect(logs.summary).toMatch(
      /^Thing log lines after \?after=seq; .* one `end` event carrying the thing when it stops\)$/,
    );
    expect(logs.responses[200].parse({ items: [], status: "up", next: 0 }).status).toBe("up");
    expect(() => logs.responses[200].parse({ items: [], status: "gone", next: 0 })).toThrow();
  });
});
