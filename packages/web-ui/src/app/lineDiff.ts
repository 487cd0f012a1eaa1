/** One row of a side-by-side diff: a line on the left, on the right, or both. */
export interface DiffRow {
  kind: "same" | "changed" | "removed" | "added";
  left: { line: number; text: string } | null;
  right: { line: number; text: string } | null;
}

/** Largest left × right line product diffed exactly; beyond it, unmatched runs are paired. */
const MAX_CELLS = 4_000_000;

/**
 * A side-by-side line diff (longest common subsequence). Runs of removed lines directly followed
 * by added lines are paired up as `changed` rows, as side-by-side views show them.
 */
export function lineDiff(leftText: string, rightText: string): DiffRow[] {
  const a = splitLines(leftText);
  const b = splitLines(rightText);
  // Common prefix and suffix are cheap and keep the table small.
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: Array<"=" | "-" | "+"> = [];
  for (let i = 0; i < start; i++) ops.push("=");
  ops.push(...middleOps(a.slice(start, endA), b.slice(start, endB)));
  for (let i = endA; i < a.length; i++) ops.push("=");

  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  let k = 0;
  while (k < ops.length) {
    if (ops[k] === "=") {
      rows.push({ kind: "same", left: { line: i + 1, text: a[i]! }, right: { line: j + 1, text: b[j]! } });
      i++;
      j++;
      k++;
      continue;
    }
    const removed: number[] = [];
    const added: number[] = [];
    while (k < ops.length && ops[k] !== "=") {
      if (ops[k] === "-") removed.push(i++);
      else added.push(j++);
      k++;
    }
    const n = Math.max(removed.length, added.length);
    for (let r = 0; r < n; r++) {
      const li = removed[r];
      const ri = added[r];
      const left = li === undefined ? null : { line: li + 1, text: a[li]! };
      const right = ri === undefined ? null : { line: ri + 1, text: b[ri]! };
      rows.push({ kind: left && right ? "changed" : left ? "removed" : "added", left, right });
    }
  }
  return rows;
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

function middleOps(a: string[], b: string[]): Array<"=" | "-" | "+"> {
  const n = a.length;
  const m = b.length;
  if (n === 0) return b.map(() => "+");
  if (m === 0) return a.map(() => "-");
  if (n * m > MAX_CELLS) return [...a.map(() => "-" as const), ...b.map(() => "+" as const)];
  // lcs[i][j] = LCS length of a[i..] and b[j..], in one flat array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!);
    }
  }
  const ops: Array<"=" | "-" | "+"> = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      ops.push("=");
      i++;
      j++;
    } else if (lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!) {
      ops.push("-");
      i++;
    } else {
      ops.push("+");
      j++;
    }
  }
  while (i++ < n) ops.push("-");
  while (j++ < m) ops.push("+");
  return ops;
}
