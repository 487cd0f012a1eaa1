import { describe, expect, it } from "vitest";
import { BuildJobSchema, canonicalStatus, FINAL_BUILD_STATUSES, isFinalBuildStatus } from "./builds";
import { FINAL_RUN_STATUSES, isFinalRunStatus, RunStatusSchema } from "./runs";

describe("statuses", () => {
  it("spell the stopped state canceled for builds and runs alike", () => {
    expect(BuildJobSchema.shape.status.options).toContain("canceled");
    expect(BuildJobSchema.shape.status.options).not.toContain("cancelled");
    expect(RunStatusSchema.options).toContain("canceled");
    expect(FINAL_BUILD_STATUSES).toEqual(["succeeded", "failed", "canceled"]);
    expect(FINAL_RUN_STATUSES).toEqual(["completed", "failed", "canceled"]);
  });

  it("accept the older cancelled on input", () => {
    expect(canonicalStatus("cancelled")).toBe("canceled");
    expect(canonicalStatus("running")).toBe("running");
    expect(isFinalBuildStatus("cancelled")).toBe(true);
    expect(isFinalRunStatus("cancelled")).toBe(true);
    expect(isFinalBuildStatus("running")).toBe(false);
    expect(isFinalRunStatus("preparing")).toBe(false);
  });
});
