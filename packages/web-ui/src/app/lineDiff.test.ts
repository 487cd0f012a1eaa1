import { describe, expect, it } from "vitest";
import { lineDiff } from "./lineDiff";

describe("lineDiff", () => {
  it("keeps equal texts as same rows with line numbers", () => {
    const rows = lineDiff("a\nb\n", "a\nb\n");
    expect(rows.map((r) => r.kind)).toEqual(["same", "same"]);
    expect(rows[1]).toEqual({ kind: "same", left: { line: 2, text: "b" }, right: { line: 2, text: "b" } });
  });

  it("pairs a replaced line as changed and keeps surrounding context aligned", () => {
    const rows = lineDiff("name: x\n- numpy==1.0\n- pip\n", "name: x\n- numpy==2.0\n- pip\n");
    expect(rows.map((r) => r.kind)).toEqual(["same", "changed", "same"]);
    expect(rows[1]?.left?.text).toBe("- numpy==1.0");
    expect(rows[1]?.right?.text).toBe("- numpy==2.0");
    expect(rows[2]?.left?.line).toBe(3);
    expect(rows[2]?.right?.line).toBe(3);
  });

  it("reports pure insertions and deletions with the other side empty", () => {
    const rows = lineDiff("a\nc\n", "a\nb\nc\nd\n");
    expect(rows.map((r) => r.kind)).toEqual(["same", "added", "same", "added"]);
    expect(rows[1]).toEqual({ kind: "added", left: null, right: { line: 2, text: "b" } });
    const back = lineDiff("a\nb\nc\nd\n", "a\nc\n");
    expect(back.map((r) => r.kind)).toEqual(["same", "removed", "same", "removed"]);
    expect(back[3]).toEqual({ kind: "removed", left: { line: 4, text: "d" }, right: null });
  });

  it("handles empty sides and CRLF", () => {
    expect(lineDiff("", "")).toEqual([]);
    expect(lineDiff("", "x\r\ny").map((r) => r.kind)).toEqual(["added", "added"]);
    expect(lineDiff("x\r\n", "x\n").map((r) => r.kind)).toEqual(["same"]);
  });

  it("finds the longest common subsequence, not just a prefix match", () => {
    const rows = lineDiff("p\nq\nr\ns\n", "q\nx\ns\n");
    const same = rows.filter((r) => r.kind === "same").map((r) => r.left?.text);
    expect(same).toEqual(["q", "s"]);
  });
});
