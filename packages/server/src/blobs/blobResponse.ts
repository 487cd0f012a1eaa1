import type { Context } from "hono";
import type { BlobReader, ByteRange } from "./blobStore";

/**
 * The one satisfiable range a `Range` header asks for (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-`
 * or `bytes=-n`. `null` means "send the whole blob" (no header, another unit, several ranges or a
 * malformed one, all of which a server may ignore); `"unsatisfiable"` means 416.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | null | "unsatisfiable" {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  if (m[1] === "") {
    // the last n bytes
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n) || n === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return null;
  if (m[2] !== "" && Number(m[2]) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

/**
 * Answer with a blob streamed from the store (never buffered whole), honouring a single-range
 * `Range` request (206 with `Content-Range`, 416 past the end) unless an `If-Range` names another
 * version. `headers` are added to every answer (type, ETag, caching, disposition).
 */
export function blobResponse(
  c: Context,
  blob: BlobReader,
  headers: Record<string, string> & { "content-type": string },
): Response {
  const etag = headers.etag ?? headers.ETag;
  const ifRange = c.req.header("if-range");
  const wanted =
    ifRange !== undefined && ifRange !== etag ? null : parseRange(c.req.header("range"), blob.size);
  const base = { ...headers, "accept-ranges": "bytes" };
  if (wanted === "unsatisfiable") {
    return new Response(null, { status: 416, headers: { ...base, "content-range": `bytes */${blob.size}` } });
  }
  const head = c.req.method === "HEAD";
  if (wanted === null) {
    return new Response(head ? null : blob.stream(), {
      status: 200,
      headers: { ...base, "content-length": String(blob.size) },
    });
  }
  return new Response(head ? null : blob.stream(wanted), {
    status: 206,
    headers: {
      ...base,
      "content-length": String(wanted.end - wanted.start + 1),
      "content-range": `bytes ${wanted.start}-${wanted.end}/${blob.size}`,
    },
  });
}
