import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { CoreError, CoreErrorCode, type DefinitionIssue, preview } from "../errors";
import { formatPath, type SourceLocations } from "./path";

export type { SourceLocation, SourceLocations } from "./path";

export interface ParsedSource {
  value: unknown;
  locations: SourceLocations;
}

/**
 * Parse YAML (or JSON, a subset of YAML 1.2) keeping the line of every node, keyed by JSON path.
 * Integers beyond Number.MAX_SAFE_INTEGER are rejected instead of silently rounded.
 */
export function parseWithLocations(
  text: string,
  options: { file: string; pathPrefix?: (string | number)[]; kind?: "yaml" | "json" },
): ParsedSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, intAsBigInt: true, prettyErrors: false, uniqueKeys: true });
  const code = options.kind === "json" ? CoreErrorCode.JSON_SYNTAX : CoreErrorCode.YAML_SYNTAX;
  if (doc.errors.length > 0) {
    const issues: DefinitionIssue[] = doc.errors.map((e) => {
      const pos = lineCounter.linePos(e.pos[0]);
      return {
        code,
        severity: "error",
        message: e.message.split("\n")[0] ?? e.message,
        path: "",
        file: options.file,
        line: pos.line,
        column: pos.col,
      };
    });
    const first = issues[0]!;
    throw new CoreError(
      code,
      `${options.file}:${first.line}: expected valid ${options.kind === "json" ? "JSON" : "YAML"} ` +
        `(e.g. "dependencies:\\n  - python=3.11"); ${first.message}`,
      { file: options.file, ...(first.line ? { line: first.line } : {}), issues },
    );
  }
  const locations: SourceLocations = {};
  const prefix = options.pathPrefix ?? [];
  const bad: DefinitionIssue[] = [];
  const visit = (node: unknown, path: (string | number)[]): unknown => {
    let n = node as Node | null | undefined;
    if (isAlias(n)) n = n.resolve(doc) as Node | undefined;
    if (n && typeof n === "object" && "range" in n && n.range) {
      const pos = lineCounter.linePos(n.range[0]);
      locations[formatPath([...prefix, ...path])] = { file: options.file, line: pos.line, column: pos.col };
    }
    if (isMap(n)) {
      const out: Record<string, unknown> = {};
      for (const pair of n.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        if (isScalar(pair.key) && pair.key.range) {
          const pos = lineCounter.linePos(pair.key.range[0]);
          // Point a key's path at the key itself (the value may start on a later line).
          locations[formatPath([...prefix, ...path, key])] = {
            file: options.file,
            line: pos.line,
            column: pos.col,
          };
        }
        Object.defineProperty(out, key, {
          value: visitValue(pair.value, [...path, key]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    if (isSeq(n)) return n.items.map((item, i) => visitValue(item, [...path, i]));
    if (isScalar(n)) {
      const v = n.value;
      if (typeof v === "bigint") {
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(-Number.MAX_SAFE_INTEGER)) {
          const pos = n.range ? lineCounter.linePos(n.range[0]) : undefined;
          bad.push({
            code: CoreErrorCode.SPEC_INVALID,
            severity: "error",
            message: `integer ${preview(String(v))} is beyond ±2^53-1 and would lose precision; quote it`,
            path: formatPath([...prefix, ...path]),
            file: options.file,
            ...(pos ? { line: pos.line, column: pos.col } : {}),
          });
        }
        return Number(v);
      }
      return v;
    }
    if (n === null || n === undefined) return null;
    return (n as { toJSON?: () => unknown }).toJSON?.() ?? null;
  };
  const visitValue = (node: unknown, path: (string | number)[]): unknown => {
    // Keys whose value is empty (`pip:`) have a null node.
    if (node === null || node === undefined) return null;
    return visit(node, path);
  };
  const value = visitValue(doc.contents, []);
  if (bad.length > 0) {
    const first = bad[0]!;
    throw new CoreError(CoreErrorCode.SPEC_INVALID, `${options.file}:${first.line}: ${first.message}`, {
      file: options.file,
      ...(first.line ? { line: first.line } : {}),
      issues: bad,
    });
  }
  return { value, locations };
}
