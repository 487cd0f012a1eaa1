/** A column of {@link formatTable}. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/** A plain left-aligned text table, header first; control characters in cells are made visible. */
export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join("\n");
}

function cell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined || v === "") return "-";
  return sanitize(String(v));
}

/** Replace control characters (terminal escapes, newlines) with visible escapes. */
export function sanitize(s: string): string {
  return s.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Stable, pretty JSON for `--json` output. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}
