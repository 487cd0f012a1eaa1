import { describe, expect, it } from "vitest";
import { named } from "./rows";

describe("named", () => {
  it("is the workspace's name as a filter", () => {
    expect(named("ws-1", "env-a")).toEqual({ workspace_id: "ws-1", name: "env-a" });
  });

  it("refuses a missing workspace id or name (an object filter would drop the key and match every workspace)", () => {
    expect(() => named(undefined as unknown as string, "env-a")).toThrow(/workspace id and a name as text/);
    expect(() => named("ws-1", undefined as unknown as string)).toThrow(/received string and undefined/);
  });
});
