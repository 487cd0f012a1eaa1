import { describeOnEachDatabase, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openFeatureStore } from "../../test/helpers";
import { openRunStore, type RunEnvironment, type RunStore } from "./runStore";

const env: RunEnvironment = {
  name: "e",
  version: 1,
  definitionHash: "mlenv1-sha256:00",
  imageKey: "mlenv1-sha256:11",
  definition: { name: "e" },
  lock: null,
};

/** A service of model m in workspace w (what createService takes). */
const serviceInput = (name: string, modelVersion: number) => ({
  workspaceId: "w",
  name,
  model: { name: "m", version: modelVersion },
  entryScript: "score.py",
  snapshot: "sha256:ab",
  environment: env,
  createdBy: "t",
});

function contract(open: () => Promise<{ runs: RunStore; done: () => Promise<void> }>) {
  let runs: RunStore;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ runs, done } = await open());
  });
  afterAll(() => done?.());

  const input = (experiment: string) => ({
    workspaceId: "w",
    experiment,
    target: "local" as const,
    script: "train.py",
    arguments: ["--x", "1"],
    snapshot: "sha256:ab",
    environment: env,
    createdBy: "t",
  });

  it("numbers concurrent runs of an experiment 1..n without gaps and moves them through statuses once", async () => {
    const made = await Promise.all(Array.from({ length: 6 }, () => runs.createRun(input("exp"))));
    expect(made.map((r) => r.number).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const r = made[0]!;
    expect(r).toMatchObject({ status: "queued", arguments: ["--x", "1"], environment: env, artifacts: [] });
    expect(await runs.setRunStatus(r.id, "running", { pid: 42 })).toBe(true);
    expect((await runs.getRun(r.id))?.pid).toBe(42);
    const artifacts = [{ path: "outputs/m.json", digest: "sha256:cd", size: 3 }];
    expect(
      await runs.setRunStatus(r.id, "failed", { exitCode: 2, error: { code: "E", message: "m" }, artifacts }),
    ).toBe(true);
    expect(await runs.setRunStatus(r.id, "completed", { exitCode: 0 })).toBe(false);
    const final = await runs.getRun(r.id);
    expect(final).toMatchObject({ status: "failed", exitCode: 2, artifacts, pid: null });
    expect(final?.startedAt).not.toBeNull();
    expect(final?.finishedAt).not.toBeNull();
    // heartbeats: a fresh beat keeps a run; only stale ones are failed
    const ids = made.slice(1).map((x) => x.id);
    await runs.heartbeat(ids.slice(0, 2), new Date(Date.now() - 3_600_000));
    const lost = await runs.failStale(new Date(Date.now() - 60_000), {
      code: "E_SERVER_RESTARTED",
      message: "lost",
    });
    expect(lost.sort()).toEqual(ids.slice(0, 2).sort());
    await runs.heartbeat(ids.slice(2));
    expect(await runs.failStale(new Date(Date.now() - 60_000), { code: "E", message: "m" })).toEqual([]);
    expect(await runs.failStale(new Date(Date.now() + 60_000), { code: "E", message: "m" })).toHaveLength(3);
    expect(
      (await runs.listRuns({ workspaceId: "w", experiment: "exp" })).every((x) => x.status === "failed"),
    ).toBe(true);
    expect(await runs.listRuns({ workspaceId: "other" })).toEqual([]);
  });

  it("keeps logs in order and pages them; metrics count steps per name", async () => {
    const r = await runs.createRun(input("logs"));
    await runs.appendLogs(r.id, [
      { seq: 1, stream: "system", text: "one" },
      { seq: 2, stream: "stdout", text: "two" },
    ]);
    await runs.appendLogs(r.id, [{ seq: 3, stream: "stderr", text: "three" }]);
    expect((await runs.logs(r.id)).map((l) => l.text)).toEqual(["one", "two", "three"]);
    expect((await runs.logs(r.id, 2)).map((l) => l.stream)).toEqual(["stderr"]);
    expect(await runs.lastLogSeq(r.id)).toBe(3);
    await Promise.all([runs.addMetric(r.id, "loss", 0.5), runs.addMetric(r.id, "acc", { top1: 0.9 })]);
    await runs.addMetric(r.id, "loss", 0.25);
    const m = await runs.metrics(r.id);
    expect(m.filter((x) => x.name === "loss").map((x) => [x.value, x.step])).toEqual([
      [0.5, 0],
      [0.25, 1],
    ]);
    expect(m.find((x) => x.name === "acc")?.value).toEqual({ top1: 0.9 });
  });

  it("versions models by content and keeps one live service per name", async () => {
    const files = [{ path: "m.json", digest: "sha256:01", size: 1 }];
    const reg = (digest: string) =>
      runs.registerModel({
        workspaceId: "w",
        name: "m",
        digest,
        files,
        runId: null,
        description: null,
        createdBy: "t",
      });
    const [a, b] = await Promise.all([reg("sha256:d1"), reg("sha256:d1")]);
    expect([a.model.version, b.model.version]).toEqual([1, 1]);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    expect((await reg("sha256:d2")).model.version).toBe(2);
    expect((await runs.getModel("w", "m"))?.version).toBe(2);
    expect((await runs.getModel("w", "m", 1))?.digest).toBe("sha256:d1");
    expect((await runs.listModels("w")).map((x) => [x.name, x.version])).toEqual([["m", 2]]);

    const svc = serviceInput("s", 2);
    const s = await runs.createService(svc);
    expect(s).toMatchObject({ status: "deploying", restarts: 0, model: { name: "m", version: 2 } });
    expect(await runs.createService(svc)).toBeNull();
    await runs.updateService(s!.id, {
      status: "healthy",
      port: 1234,
      url: "http://127.0.0.1:1234",
      restarts: 1,
    });
    expect(await runs.findService("w", "s")).toMatchObject({ status: "healthy", port: 1234, restarts: 1 });
    await runs.updateService(s!.id, { status: "deleted" });
    expect(await runs.findService("w", "s")).toBeNull();
    expect(await runs.createService(svc)).not.toBeNull();
    expect((await runs.listServices("w")).map((x) => x.name)).toEqual(["s"]);
  });

  it("lets one server process hold a service at a time", async () => {
    const s = (await runs.createService({ ...serviceInput("held", 1), owner: "p1" })) as { id: string };
    const fresh = new Date(Date.now() - 60_000); // heartbeats after this count as alive
    expect(await runs.claimService(s.id, "p2", fresh)).toBeNull();
    expect(await runs.claimService(s.id, "p1", fresh)).not.toBeNull();
    expect(await runs.heartbeatServices("p1")).toContain(s.id);
    expect(await runs.heartbeatServices("p2")).not.toContain(s.id);
    // p2 writes nothing while p1 holds it
    await runs.updateService(s.id, { status: "healthy" }, { owner: "p2" });
    expect((await runs.getService(s.id))?.status).toBe("deploying");
    await runs.updateService(s.id, { status: "healthy" }, { owner: "p1" });
    expect((await runs.getService(s.id))?.status).toBe("healthy");
    expect((await runs.unheldServices(fresh)).map((x) => x.id)).not.toContain(s.id);
    // p1 stops renewing: p2 takes over, and p1 no longer holds it
    const later = new Date(Date.now() + 60_000);
    expect((await runs.unheldServices(later)).map((x) => x.id)).toContain(s.id);
    expect(await runs.claimService(s.id, "p2", later)).not.toBeNull();
    expect(await runs.heartbeatServices("p1")).not.toContain(s.id);
    // a graceful stop lets go at once
    await runs.releaseServices("p2");
    expect(await runs.claimService(s.id, "p3", fresh)).not.toBeNull();
    // failed and deleted services are nobody's to take
    await runs.updateService(s.id, { status: "failed" });
    expect(await runs.claimService(s.id, "p4", later)).toBeNull();
    await runs.updateService(s.id, { status: "deleted" });
    expect(await runs.claimService(s.id, "p3", later)).toBeNull();
    expect(await runs.heartbeatServices("p3")).not.toContain(s.id);
  });
}

describeOnEachDatabase("RunStore", "run_store", ({ database }) => {
  const dir = useTempDir("mlenv-runstore-");
  contract(async () => {
    const { opened: runs, done } = await openFeatureStore(dir.path, database(), openRunStore);
    return { runs, done };
  });
});
