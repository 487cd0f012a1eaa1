import { describeOnEachDatabase, useTempDir } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openFeatureStore } from "../../test/helpers";
import { type BuildJobStore, openBuildJobStore } from "./jobStore";

const key = (n: number) => `mlenv1-sha256:${n.toString(16).padStart(64, "0")}`;

function contract(open: () => Promise<{ jobs: BuildJobStore; done: () => Promise<void> }>) {
  let jobs: BuildJobStore;
  let done: () => Promise<void>;
  beforeAll(async () => {
    ({ jobs, done } = await open());
  });
  afterAll(async () => {
    await done?.();
  });

  it("keeps one active job per image key, across concurrent enqueues", async () => {
    const inputs = Array.from({ length: 8 }, () => ({
      workspaceId: "w",
      imageKey: key(1),
      image: "reg/mlenv/env_1:latest",
      request: { definition: { name: "a" } },
      context: { environment: "a" },
    }));
    const results = await Promise.all(inputs.map((i) => jobs.enqueue(i)));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.job.id)).size).toBe(1);
    const job = results[0]?.job;
    expect(job).toMatchObject({ status: "queued", imageKey: key(1), context: { environment: "a" } });
    expect(job?.request).toEqual({ definition: { name: "a" } });
    expect((await jobs.activeFor(key(1)))?.id).toBe(job?.id);
  });

  it("claims queued jobs oldest first, once each, and finishes them once", async () => {
    const b = await jobs.enqueue({ workspaceId: "w", imageKey: key(2), image: "i2", request: {} });
    const claims = await Promise.all([jobs.claimNext(), jobs.claimNext(), jobs.claimNext()]);
    const claimed = claims.filter((c) => c !== null);
    expect(claimed.map((c) => c?.imageKey).sort()).toEqual([key(1), key(2)]);
    expect(claimed.every((c) => c?.status === "running" && c.startedAt !== null)).toBe(true);
    expect(await jobs.claimNext()).toBeNull();

    const outcome = {
      image: "i2",
      imageId: "sha256:1",
      digest: "sha256:2",
      cacheHit: false,
      source: "built" as const,
      steps: [],
      dockerfile: "FROM x\n",
      durationMs: 5,
    };
    expect(await jobs.finish(b.job.id, "succeeded", { outcome })).toBe(true);
    expect(await jobs.finish(b.job.id, "failed", { error: { code: "E", message: "late" } })).toBe(false);
    const finished = await jobs.get(b.job.id);
    expect(finished).toMatchObject({ status: "succeeded", outcome, error: null });
    expect(finished?.finishedAt).not.toBeNull();
    // a final job frees its key: the next enqueue creates a new job
    const again = await jobs.enqueue({ workspaceId: "w", imageKey: key(2), image: "i2", request: {} });
    expect(again.created).toBe(true);
    expect(again.job.id).not.toBe(b.job.id);
  });

  it("fails running jobs whose heartbeat went stale, and keeps logs in order", async () => {
    const active = await jobs.activeFor(key(1));
    if (!active) throw new Error("expected the key(1) job");
    await jobs.appendLogs(active.id, [
      { seq: 1, step: null, text: "one" },
      { seq: 2, step: 1, text: "Step 1/2 : FROM x" },
    ]);
    await jobs.appendLogs(active.id, [{ seq: 3, step: 2, text: "three" }]);
    expect((await jobs.logs(active.id)).map((l) => l.text)).toEqual(["one", "Step 1/2 : FROM x", "three"]);
    expect(await jobs.logs(active.id, 2)).toEqual([{ seq: 3, step: 2, text: "three" }]);

    await jobs.heartbeat([active.id]);
    expect(await jobs.failStale(new Date(Date.now() - 60_000), { code: "E_X", message: "m" })).toEqual([]);
    expect(
      await jobs.failStale(new Date(Date.now() + 1000), { code: "E_BUILD_INTERRUPTED", message: "gone" }),
    ).toEqual([active.id]);
    expect(await jobs.get(active.id)).toMatchObject({
      status: "failed",
      error: { code: "E_BUILD_INTERRUPTED" },
    });
    expect((await jobs.list({ workspaceId: "w", status: ["failed"] })).map((j) => j.id)).toEqual([active.id]);
    expect(await jobs.get("nope")).toBeNull();
  });

  it("claims jobs in enqueue order even when they share a millisecond", async () => {
    // drain what earlier tests left queued
    for (let j = await jobs.claimNext(); j; j = await jobs.claimNext())
      await jobs.finish(j.id, "canceled", {});
    const ids: string[] = [];
    for (let n = 0; n < 12; n++) {
      const { job } = await jobs.enqueue({
        workspaceId: "w",
        imageKey: key(100 + n),
        image: `q${n}`,
        request: {},
      });
      ids.push(job.id);
    }
    const claimed: string[] = [];
    for (let n = 0; n < 12; n++) claimed.push(((await jobs.claimNext()) as { id: string }).id);
    expect(claimed).toEqual(ids);
    for (const id of claimed) await jobs.finish(id, "canceled", {});
  });
}

describeOnEachDatabase("BuildJobStore", "build_jobs_test", ({ database }) => {
  const dir = useTempDir();
  contract(async () => {
    const { opened: jobs, done } = await openFeatureStore(dir.path, database(), openBuildJobStore);
    return { jobs, done };
  });
});
