import { copyFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { expect, it } from "vitest";
import { openBuildJobStore } from "../../src/builds/jobStore";
import { openComputeStore } from "../../src/compute/store";
import { SqliteStore } from "../../src/database";
import { openRunStore } from "../../src/runs/runStore";
import { openWheelCatalog } from "../../src/wheels/sqlCatalog";
import { readAll, type StoreApi } from "./legacy";

const fixtures = join(import.meta.dirname, "..", "fixtures");
const api: StoreApi = { SqliteStore, openWheelCatalog, openBuildJobStore, openRunStore, openComputeStore };

it("reads a data dir the server wrote before the one database layer exactly as that server did", async () => {
  const dir = makeTempDir();
  try {
    const file = join(dir.path, "mlenv.db");
    copyFileSync(join(fixtures, "legacy-0014.db"), file);
    const { applied, ...expected } = JSON.parse(readFileSync(join(fixtures, "legacy-0014.json"), "utf8")) as {
      applied: string[];
    };
    const { applied: appliedNow, ...now } = await readAll(api, file);
    // later migrations are applied on top; records may gain fields, never lose or change one
    expect((appliedNow as string[]).slice(0, applied.length)).toEqual(applied);
    expect(now).toMatchObject(expected);

    // and keeps writing to it: the next version of a name, a label, a token
    const store = new SqliteStore(file);
    await store.migrate();
    const ws = (await store.getWorkspace("default"))!;
    const res = await store.register({
      workspaceId: ws.id,
      name: "torch",
      definitionHash: "9".repeat(64),
      definitionJson: "{}",
      definitionBlob: `sha256:${"0".repeat(64)}`,
      description: null,
      tags: {},
      curated: false,
      createdBy: "admin",
      now: "2026-02-01T00:00:00.000Z",
    });
    expect([res.created, res.version.version]).toEqual([true, 3]);
    expect((await store.resolve(ws.id, "torch", { label: "prod" }))?.version?.version).toBe(1);
    await store.close();
  } finally {
    dir.cleanup();
  }
});
