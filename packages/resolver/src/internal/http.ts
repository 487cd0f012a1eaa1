import { isAscii } from "node:buffer";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";

/** The part of a fetch Response the sources use. */
export interface SimpleResponse {
  status: number;
  ok: boolean;
  url: string;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
  arrayBuffer(): Promise<ArrayBuffer>;
  /** The body without a copy (nodeGet only). */
  rawBody?(): Promise<Buffer>;
}

/** Largest body read into one buffer allocated up front from its Content-Length (256 MiB). */
const PREALLOCATE_MAX = 256 * 1024 * 1024;

/** A response body as a Buffer (no copy when the fetcher is nodeGet). */
export async function responseBytes(res: SimpleResponse): Promise<Buffer> {
  return res.rawBody ? res.rawBody() : Buffer.from(await res.arrayBuffer());
}

export interface GetInit {
  headers: Record<string, string>;
  /** Where a body of known length goes (default: a new buffer); see conda/solve.ts's body pool. */
  alloc?: ((size: number) => Buffer) | undefined;
}

export type Fetcher = (url: string, init: GetInit) => Promise<SimpleResponse>;

/**
 * GET over node:http(s), following up to 5 redirects and decoding gzip/deflate/br. Several
 * times cheaper than the global fetch for multi-megabyte repodata on loopback.
 */
export function nodeGet(url: string, init: GetInit, redirects = 5): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      { method: "GET", headers: { "accept-encoding": "gzip, deflate, br", ...init.headers } },
      (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (status >= 300 && status < 400 && status !== 304 && location && redirects > 0) {
          res.resume();
          nodeGet(new URL(location, u).href, init, redirects - 1).then(resolve, reject);
          return;
        }
        const enc = String(res.headers["content-encoding"] ?? "").toLowerCase();
        const stream =
          enc === "gzip" || enc === "x-gzip"
            ? res.pipe(createGunzip())
            : enc === "deflate"
              ? res.pipe(createInflate())
              : enc === "br"
                ? res.pipe(createBrotliDecompress())
                : res;
        // with a known length (and no encoding) chunks are copied straight into one buffer
        const declared = stream === res ? Number(res.headers["content-length"]) : Number.NaN;
        // (never trusting a huge declared length: above the cap, chunks are collected as they come)
        let whole: Buffer | null = null;
        if (Number.isSafeInteger(declared) && declared > 0 && declared <= PREALLOCATE_MAX) {
          try {
            whole = init.alloc ? init.alloc(declared) : Buffer.allocUnsafe(declared);
          } catch {
            whole = null;
          }
        }
        let filled = 0;
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => {
          if (whole && filled + c.length <= whole.length) {
            c.copy(whole, filled);
            filled += c.length;
          } else {
            if (whole) chunks.push(whole.subarray(0, filled));
            whole = null;
            chunks.push(c);
          }
        });
        stream.on("error", reject);
        stream.on("end", () => {
          const body =
            whole !== null
              ? whole.subarray(0, filled)
              : chunks.length === 1
                ? (chunks[0] as Buffer)
                : Buffer.concat(chunks);
          resolve({
            status,
            ok: status >= 200 && status < 300,
            url,
            headers: {
              get: (name) => {
                const v = res.headers[name.toLowerCase()];
                return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
              },
            },
            // pure-ASCII bodies (most repodata) decode as latin1: same string, no UTF-8 pass
            text: async () => body.toString(isAscii(body) ? "latin1" : "utf8"),
            rawBody: async () => body,
            arrayBuffer: async () =>
              body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
          });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}
