import { join } from "node:path";
import { makeTempDir, postgresMissing, skipWithout, startPostgres } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresStore, SqliteStore } from "../database";
import { openRunStore, type RunStore } from "../runs/runStore";
import type { SqlStore } from "../store/sqlStore";
import type { SlurmTargetSettings } from "./schemas";
import { type ComputeStore, openComputeStore } from "./store";

const environment = { name: "e", version: 1, definitionHash: "h", imageKey: "k", definition: {}, lock: null };
const settings = { url: "http://127.0.0.1:1", partition: "main" } as unknown as SlurmTargetSettings;

/** The compute store's contract (no cluster: targets, cluster job bookkeeping, datastores). */
function contract(open: () => Promise<{ store: SqlStore; done: () => Promise<void> }>) {
  let compute: ComputeStore;
  let runs: RunStore;
  let ws: string;
  let done: () => Promise<void>;
  beforeAll(async () => {
    let store: SqlStore;
    ({ store, done } = await open());
    ws = (await store.createWorkspace("w", new Date().toISOString())).id;
    compute = openComputeStore(store.db);
    runs = openRunStore(store.db);
  });
  afterAll(() => done?.());

  const target = (name: string) => ({
    workspaceId: ws,
    name,
    kind: "slurm" as const,
    settings,
    secretName: null,
    createdBy: "t",
  });

  it("attaches a target once per name, lists them by name and detaches", async () => {
    expect(await compute.insertTarget(target("b"))).toMatchObject({ name: "b", settings, secretName: null });
    expect(await compute.insertTarget({ ...target("a"), secretName: "slurm-token" })).not.toBeNull();
    expect(await compute.insertTarget(target("b"))).toBeNull();
    expect((await compute.listTargets(ws)).map((t) => t.name)).toEqual(["a", "b"]);
    expect((await compute.getTarget(ws, "a"))?.secretName).toBe("slurm-token");
    expect(await compute.deleteTarget(ws, "a")).toBe(true);
    expect(await compute.deleteTarget(ws, "a")).toBe(false);
    expect(await compute.getTarget(ws, "a")).toBeNull();
  });

  it("records a run's cluster job and lets one process follow it at a time", async () => {
    const run = await runs.createRun({
      workspaceId: ws,
      experiment: "x",
      target: "b",
      script: "train.py",
      arguments: [],
      snapshot: "sha256:ab",
      environment,
      createdBy: "t",
    });
    await compute.createJob({
      runId: run.id,
      workspaceId: ws,
      target: "b",
      runDir: "/d",
      settings,
      owner: "p1",
    });
    expect(await compute.getJob(run.id)).toMatchObject({ phase: "preparing", jobIds: [], outOffset: 0 });
    // offsets beyond 32 bits come back as numbers on both backends
    await compute.updateJob(run.id, {
      phase: "submitted",
      jobIds: [7],
      outOffset: 5_000_000_000,
      state: "RUNNING",
    });
    await compute.updateJob(run.id, {});
    expect(await compute.getJob(run.id)).toMatchObject({
      phase: "submitted",
      jobIds: [7],
      outOffset: 5_000_000_000,
      errOffset: 0,
      state: "RUNNING",
      reason: null,
    });
    const fresh = new Date(Date.now() - 60_000);
    expect(await compute.claimJobs("p2", fresh)).toEqual([]);
    expect((await compute.claimJobs("p1", fresh)).map((c) => c.takenOver)).toEqual([false]);
    // p1 stops renewing: p2 takes the job over
    const taken = await compute.claimJobs("p2", new Date(Date.now() + 60_000));
    expect(taken.map((c) => [c.job.runId, c.job.owner, c.takenOver])).toEqual([[run.id, "p2", true]]);
    await compute.releaseJobs("p2");
    expect((await compute.getJob(run.id))?.owner).toBeNull();
    expect((await compute.claimJobs("p3", fresh)).map((c) => c.takenOver)).toEqual([true]);
    await compute.updateJob(run.id, { phase: "done" });
    expect(await compute.claimJobs("p3", fresh)).toEqual([]);

    await compute.setRunCompute(run.id, { kind: "slurm", target: "b", jobIds: [7] });
    await compute.setRunInputs(run.id, [{ datastore: "d", version: 1 }]);
    expect(await runs.getRun(run.id)).toMatchObject({
      compute: { kind: "slurm", target: "b", jobIds: [7] },
      inputs: [{ datastore: "d", version: 1 }],
    });
  });

  it("versions a blob datastore by content, once under concurrent adds", async () => {
    const d = { workspaceId: ws, kind: "blob" as const, path: null, description: null, createdBy: "t" };
    expect(await compute.insertDatastore({ ...d, name: "data" })).toMatchObject({ latestVersion: 0 });
    expect(await compute.insertDatastore({ ...d, name: "data" })).toBeNull();
    await compute.insertDatastore({ ...d, name: "a-dir", kind: "directory", path: "/shared" });
    expect((await compute.listDatastores(ws)).map((x) => x.name)).toEqual(["a-dir", "data"]);
    const add = (digest: string) =>
      compute.addVersion({
        workspaceId: ws,
        name: "data",
        digest,
        files: [{ path: "f", digest, size: 1 }],
        size: 6_000_000_000,
        createdBy: "t",
      });
    const [a, b] = await Promise.all([add("sha256:1"), add("sha256:1")]);
    expect([a.version.version, b.version.version]).toEqual([1, 1]);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    expect((await add("sha256:2")).version).toMatchObject({ version: 2, size: 6_000_000_000 });
    expect((await compute.getDatastore(ws, "data"))?.latestVersion).toBe(2);
    expect((await compute.getVersion(ws, "data", 1))?.files).toEqual([
      { path: "f", digest: "sha256:1", size: 1 },
    ]);
    expect((await compute.listVersions(ws, "data")).map((v) => v.digest)).toEqual(["sha256:1", "sha256:2"]);
  });

  it("numbers concurrent adds of other contents 1..N without a gap or a duplicate", async () => {
    const d = { workspaceId: ws, kind: "blob" as const, path: null, description: null, createdBy: "t" };
    await compute.insertDatastore({ ...d, name: "many" });
    const digests = Array.from({ length: 12 }, (_, i) => `sha256:m${i}`);
    const added = await Promise.all(
      [...digests, ...digests].map((digest) =>
        compute.addVersion({ workspaceId: ws, name: "many", digest, files: [], size: 1, createdBy: "t" }),
      ),
    );
    expect(added.filter((a) => a.created)).toHaveLength(12);
    expect(new Set(added.map((a) => a.version.version))).toEqual(new Set(digests.map((_, i) => i + 1)));
    expect((await compute.getDatastore(ws, "many"))?.latestVersion).toBe(12);
  });
}

describe("ComputeStore on SQLite", () => {
  contract(async () => {
    const t = makeTempDir("mlenv-computestore-");
    const store = new SqliteStore(join(t.path, "mlenv.db"));
    await store.migrate();
    return {
      store,
      done: async () => {
        await store.close();
        t.cleanup();
      },
    };
  });
});

describe.skipIf(skipWithout("postgres", postgresMissing()))("ComputeStore on PostgreSQL", () => {
  contract(async () => {
    const pg = await startPostgres();
    const store = new PostgresStore(pg.url);
    await store.migrate();
    return {
      store,
      done: async () => {
        await store.close();
        await pg.stop();
      },
    };
  });
});
