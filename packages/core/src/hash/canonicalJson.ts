import { CoreError, CoreErrorCode, preview } from "../errors";

/** JSON values accepted by canonicalJson. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function fail(what: string, value: unknown, path: string): never {
  throw new CoreError(
    CoreErrorCode.CANONICAL_JSON,
    `Cannot canonicalise ${what} at ${path || "(root)"}: expected plain JSON (finite numbers, safe integers, ` +
      `well-formed strings, e.g. {"a":[1,"x"]}); received ${preview(String(value))}`,
  );
}

function str(s: string, path: string): string {
  if (loneSurrogate.test(s)) fail("a string with a lone surrogate", s, path);
  // JSON.stringify escapes exactly as RFC 8785 requires for well-formed strings.
  return JSON.stringify(s);
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function write(value: unknown, path: string, out: string[]): void {
  if (value === null) {
    out.push("null");
    return;
  }
  switch (typeof value) {
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "number":
      if (!Number.isFinite(value)) fail("a non-finite number", value, path);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) fail("an unsafe integer", value, path);
      // ECMAScript Number-to-String is RFC 8785's number format; -0 becomes "0".
      out.push(Object.is(value, -0) ? "0" : String(value));
      return;
    case "string":
      out.push(str(value, path));
      return;
    case "object": {
      if (Array.isArray(value)) {
        out.push("[");
        value.forEach((item, i) => {
          if (i > 0) out.push(",");
          if (item === undefined) fail("undefined", item, `${path}[${i}]`);
          write(item, `${path}[${i}]`, out);
        });
        out.push("]");
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) fail("a non-plain object", value, path);
      const keys = Object.keys(value)
        .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
        .sort(byCodeUnits);
      out.push("{");
      keys.forEach((k, i) => {
        if (i > 0) out.push(",");
        out.push(str(k, path), ":");
        write((value as Record<string, unknown>)[k], `${path}.${k}`, out);
      });
      out.push("}");
      return;
    }
    default:
      fail(typeof value, value, path);
  }
}

/**
 * RFC 8785 (JCS) canonical JSON: object keys sorted by UTF-16 code units, no whitespace,
 * ECMAScript number formatting. Rejects NaN/Infinity, integers beyond 2^53-1, lone surrogates,
 * and non-JSON values. Object properties whose value is `undefined` are omitted.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  write(value, "", out);
  return out.join("");
}
