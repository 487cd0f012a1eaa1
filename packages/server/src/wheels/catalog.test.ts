import { describeOnEachDatabase, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openFeatureStore } from "../../test/helpers";
import type { Store } from "../store/types";
import type { WheelCatalog, WheelPutInput } from "./catalog";
import { isWheelError } from "./errors";
import { openWheelCatalog } from "./sqlCatalog";

function input(workspaceId: string, sha: string, overwrite = false): WheelPutInput {
  return {
    workspaceId,
    filename: "pkg-1.0-py3-none-any.whl",
    project: "pkg",
    name: "pkg",
    version: "1.0",
    sha256: sha.repeat(64).slice(0, 64),
    size: 10,
    metadataSha256: "f".repeat(64),
    requiresPython: null,
    summary: null,
    uploadedAt: "2026-01-01T00:00:00.000Z",
    uploadedBy: "t",
    overwrite,
  };
}

function contract(
  open: () => Promise<{
    store: Store;
    catalog: WheelCatalog;
    again: () => WheelCatalog;
    done: () => Promise<void>;
  }>,
) {
  let h: Awaited<ReturnType<typeof open>>;
  let ws: string;
  let other: string;
  beforeAll(async () => {
    h = await open();
    ws = (await h.store.createWorkspace("w1", "2026-01-01T00:00:00.000Z")).id;
    other = (await h.store.createWorkspace("w2", "2026-01-01T00:00:00.000Z")).id;
  });
  afterAll(async () => {
    await h?.done();
  });

  it("concurrent identical uploads from two connections: one created, the rest unchanged", async () => {
    const second = h.again();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? second : h.catalog).put(input(ws, "a"))),
    );
    await second.close();
    expect(results.filter((r) => r.status === "created")).toHaveLength(1);
    expect(results.filter((r) => r.status === "unchanged")).toHaveLength(19);
    expect(await h.catalog.revisions(ws, "pkg-1.0-py3-none-any.whl")).toHaveLength(1);
  });

  it("different bytes: refused without overwrite; concurrent overwrites each get their own revision", async () => {
    await expect(h.catalog.put(input(ws, "b"))).rejects.toSatisfy((e: unknown) =>
      isWheelError(e, "E_WHEEL_EXISTS"),
    );
    const shas = ["1", "2", "3", "4", "5", "6"];
    await Promise.all(shas.map((s) => h.catalog.put(input(ws, s, true))));
    const revs = await h.catalog.revisions(ws, "pkg-1.0-py3-none-any.whl");
    expect(revs.map((r) => r.revision)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(revs.map((r) => r.sha256)).size).toBe(7);
    const current = await h.catalog.get(ws, "pkg-1.0-py3-none-any.whl");
    expect(current?.revision).toBe(7);
    expect(current?.sha256).toBe(revs[6]!.sha256);
  });

  it("workspaces are separate; yanking and secrets round-trip", async () => {
    expect(await h.catalog.list(other)).toEqual([]);
    expect(await h.catalog.projects(ws)).toEqual(["pkg"]);
    const y = await h.catalog.setYanked({
      workspaceId: ws,
      filename: "pkg-1.0-py3-none-any.whl",
      yanked: true,
      reason: "r",
    });
    expect([y?.yanked, y?.yankedReason]).toEqual([true, "r"]);
    expect(
      await h.catalog.setYanked({
        workspaceId: other,
        filename: "pkg-1.0-py3-none-any.whl",
        yanked: true,
        reason: null,
      }),
    ).toBeNull();
    await h.catalog.putSecret({ workspaceId: ws, name: "A", value: "v1", now: "t1" });
    await h.catalog.putSecret({ workspaceId: ws, name: "A", value: "v2", now: "t2" });
    expect(await h.catalog.getSecret(ws, "A")).toBe("v2");
    expect(await h.catalog.getSecret(other, "A")).toBeNull();
    expect(await h.catalog.listSecrets(ws)).toEqual([{ name: "A", createdAt: "t1", updatedAt: "t2" }]);
    expect(await h.catalog.deleteSecret(ws, "A")).toBe(true);
    expect(await h.catalog.deleteSecret(ws, "A")).toBe(false);
  });
}

describeOnEachDatabase("wheel catalog", "catalog", ({ database }) => {
  const dir = useTempDir("mlenv-catalog-");
  contract(async () => {
    const { store, location, opened, done } = await openFeatureStore(dir.path, database(), openWheelCatalog);
    return { store, catalog: opened, again: () => openWheelCatalog(location), done };
  });
});
