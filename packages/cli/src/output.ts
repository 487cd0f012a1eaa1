import pc from "picocolors";

/** A column of {@link formatTable}. */
export interface Column<T> {
  header: string;
  value: (row: T) => string | number | boolean | null | undefined;
}

/**
 * A plain left-aligned text table, header first, one row per line. Control characters in cells
 * are made visible; the line breaks between rows are the table's own.
 */
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

/**
 * The lines of a text as they may reach a terminal: split at its own line breaks (`\n`, `\r\n`),
 * each line with the remaining control characters made visible. One trailing line break is
 * dropped, so `"a\n"` is the single line `a`.
 */
export function printableLines(text: string): string[] {
  const body = text.endsWith("\n") ? text.slice(0, -1) : text;
  return body.split(/\r?\n/).map(sanitize);
}

/** Stable, pretty JSON for `--json` output. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Styles the CLI uses on a colour terminal. */
export type Style = "red" | "green" | "yellow" | "cyan" | "bold" | "dim";

/**
 * Whether to colour a stream: never with `NO_COLOR` set (https://no-color.org) or `TERM=dumb`;
 * `FORCE_COLOR` (other than `0`) forces it; otherwise only on a terminal.
 */
export function colorEnabled(env: Record<string, string | undefined>, isTTY: boolean): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return env.FORCE_COLOR !== "0";
  if (env.TERM === "dumb") return false;
  return isTTY;
}

/** A function that wraps text in a style's escape sequences, or returns it unchanged. */
export type Painter = (text: string, style?: Style) => string;

export function painter(enabled: boolean): Painter {
  const c = pc.createColors(enabled);
  return (text, style) => (style ? c[style](text) : text);
}
