import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { preview, ResolverError, ResolverErrorCode } from "../errors";
import { type Fetcher, nodeGet, responseBytes, type SimpleResponse } from "../internal/http";
import {
  type CondaRecord,
  type CondaRecordSource,
  indexedRepodataSource,
  type RepodataSpans,
  repodataSource,
  repodataSpans,
} from "./record";

/** A conda channel: per-subdir repodata. */
export interface CondaChannel {
  readonly kind: "conda";
  /** Channel URL (`http(s)://...` or `file://...`). */
  readonly url: string;
  /**
   * Records of one subdir. `current: true` reads `current_repodata.json` (latest versions only)
   * and returns `null` when the channel has none. A missing subdir yields `[]`.
   */
  records(subdir: string, options?: { current?: boolean }): Promise<CondaRecord[] | null>;
  /**
   * The same records by package name, each parsed on first use (what a solve reads). Same
   * `null` / empty rules as `records`. Optional for other implementations: solves fall back
   * to `records`.
   */
  source?(
    subdir: string,
    options?: { current?: boolean; alloc?: ((size: number) => Buffer) | undefined },
  ): Promise<CondaRecordSource | null>;
}

const EMPTY: CondaRecordSource = { recordsOf: () => [], all: () => [] };

export interface HttpChannelOptions {
  /** On-disk cache folder; responses are revalidated with ETag / Last-Modified. */
  cacheDir?: string;
  fetch?: typeof fetch;
  /** Extra request headers (e.g. authorization for a private channel). */
  headers?: Record<string, string>;
}

interface CacheMeta {
  url: string;
  etag?: string;
  lastModified?: string;
}

/** Bumped when the on-disk index format changes (older ones are ignored and rewritten). */
const INDEX_VERSION = 1;

/** `<key>.index.json`: where each package name's records lie in the cached body. */
interface CacheIndex extends RepodataSpans {
  version: number;
  /** The cached body's size and the validators it was fetched with: the index is for that body only. */
  size: number;
  etag?: string;
  lastModified?: string;
}

/** What `get` found: fresh bytes (to be cached once scanned), or the cache to read. */
type Got =
  | { kind: "bytes"; body: Buffer; save?: (source: CondaRecordSource) => Promise<void> }
  | { kind: "indexed"; source: CondaRecordSource };

/** A channel served over HTTP(S), with an optional ETag/Last-Modified disk cache. */
export function httpCondaChannel(url: string, options: HttpChannelOptions = {}): CondaChannel {
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    throw new ResolverError(
      ResolverErrorCode.SPEC_INVALID,
      `channel URL must be http(s) without spaces, e.g. https://conda.anaconda.org/conda-forge; received ${preview(url)}`,
    );
  }
  const base = url.replace(/\/+$/, "");
  const doFetch: Fetcher = options.fetch
    ? (u, { headers }) => (options.fetch as typeof fetch)(u, { headers, redirect: "follow" })
    : nodeGet;
  const get = async (
    fileUrl: string,
    subdir: string,
    alloc?: (size: number) => Buffer,
  ): Promise<Got | null> => {
    const key = createHash("sha256").update(fileUrl).digest("hex").slice(0, 40);
    const metaPath = options.cacheDir ? join(options.cacheDir, `${key}.meta.json`) : undefined;
    const bodyPath = options.cacheDir ? join(options.cacheDir, `${key}.json`) : undefined;
    const indexPath = options.cacheDir ? join(options.cacheDir, `${key}.index.json`) : undefined;
    let meta: CacheMeta | undefined;
    if (metaPath) {
      try {
        meta = JSON.parse(await readFile(metaPath, "utf8")) as CacheMeta;
      } catch {
        meta = undefined;
      }
    }
    const headers: Record<string, string> = { ...options.headers };
    if (meta?.etag) headers["if-none-match"] = meta.etag;
    if (meta?.lastModified) headers["if-modified-since"] = meta.lastModified;
    let res: SimpleResponse;
    try {
      res = await doFetch(fileUrl, { headers, alloc });
    } catch (cause) {
      throw new ResolverError(
        ResolverErrorCode.FETCH_FAILED,
        `could not fetch ${fileUrl}: expected a reachable channel such as https://conda.anaconda.org/conda-forge; received ${preview(String(cause))}`,
        { cause },
      );
    }
    if (res.status === 304 && bodyPath && indexPath && meta) {
      // a warm lock: the index says where each name's records are, so the body is never read whole
      const indexed = await readIndex(indexPath, bodyPath, meta, { channel: base, subdir, source: fileUrl });
      if (indexed) return { kind: "indexed", source: indexed };
      try {
        const body = await readFile(bodyPath);
        return { kind: "bytes", body, save: (src) => writeIndex(indexPath, src, body.length, meta) };
      } catch {
        // cache body vanished: refetch unconditionally
        const again = await doFetch(fileUrl, { headers: { ...options.headers } });
        if (!again.ok) return null;
        return { kind: "bytes", body: await responseBytes(again) };
      }
    }
    if (res.status === 404) return null;
    if (!res.ok) {
      throw new ResolverError(
        ResolverErrorCode.FETCH_FAILED,
        `fetching ${fileUrl} failed: expected HTTP 200 (or 304); received HTTP ${res.status}`,
      );
    }
    const body = await responseBytes(res);
    if (!(metaPath && bodyPath && indexPath && options.cacheDir)) return { kind: "bytes", body };
    const m: CacheMeta = { url: fileUrl };
    const etag = res.headers.get("etag");
    const lm = res.headers.get("last-modified");
    if (etag) m.etag = etag;
    if (lm) m.lastModified = lm;
    const dir = options.cacheDir;
    // the body is written while it is scanned; the index once the scan is done
    const written = (async () => {
      await mkdir(dir, { recursive: true });
      const tmp = `${bodyPath}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, bodyPath);
    })();
    written.catch(() => undefined);
    return {
      kind: "bytes",
      body,
      save: async (src) => {
        await written;
        await writeIndex(indexPath, src, body.length, m);
        await writeFile(metaPath, JSON.stringify(m));
      },
    };
  };
  const source = async (
    subdir: string,
    opts: { current?: boolean; alloc?: ((size: number) => Buffer) | undefined } = {},
  ) => {
    checkSubdir(subdir);
    const file = opts.current ? "current_repodata.json" : "repodata.json";
    const fileUrl = `${base}/${subdir}/${file}`;
    const got = await get(fileUrl, subdir, opts.alloc);
    if (got === null) return opts.current ? null : EMPTY;
    if (got.kind === "indexed") return got.source;
    const src = repodataSource(got.body, { channel: base, subdir, source: fileUrl });
    await got.save?.(src);
    return src;
  };
  return {
    kind: "conda",
    url: base,
    source,
    async records(subdir, opts = {}) {
      return (await source(subdir, opts))?.all() ?? null;
    },
  };
}

async function writeIndex(
  path: string,
  source: CondaRecordSource,
  size: number,
  meta: CacheMeta,
): Promise<void> {
  const spans = repodataSpans(source);
  if (!spans) return; // parsed whole (an unusual layout): no index, the body is read next time
  const index: CacheIndex = { version: INDEX_VERSION, size, ...spans };
  if (meta.etag) index.etag = meta.etag;
  if (meta.lastModified) index.lastModified = meta.lastModified;
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(index));
  await rename(tmp, path);
}

/** The cached body as an indexed source, or null when there is no index that matches it. */
async function readIndex(
  indexPath: string,
  bodyPath: string,
  meta: CacheMeta,
  options: { channel: string; subdir: string; source: string },
): Promise<CondaRecordSource | null> {
  let index: CacheIndex;
  let size: number;
  try {
    index = JSON.parse(await readFile(indexPath, "utf8")) as CacheIndex;
    size = (await stat(bodyPath)).size;
  } catch {
    return null;
  }
  if (
    index.version !== INDEX_VERSION ||
    index.size !== size ||
    index.etag !== meta.etag ||
    index.lastModified !== meta.lastModified ||
    !Array.isArray(index.names) ||
    !Array.isArray(index.conda) ||
    !Array.isArray(index.packages)
  ) {
    return null;
  }
  const read = (spans: readonly number[]): Buffer[] => {
    if (spans.length === 0) return [];
    const fd = openSync(bodyPath, "r");
    try {
      const out: Buffer[] = [];
      for (let k = 0; k + 1 < spans.length; k += 2) {
        const from = spans[k] as number;
        const to = spans[k + 1] as number;
        if (!(Number.isInteger(from) && Number.isInteger(to) && from >= 0 && to <= size && from < to)) {
          throw new ResolverError(
            ResolverErrorCode.REPODATA_INVALID,
            `repodata cache index ${indexPath} is corrupt: expected byte spans within the ${size}-byte body; received ${preview([from, to])} (delete the cache folder to rebuild it)`,
          );
        }
        const buf = Buffer.allocUnsafe(to - from);
        let got = 0;
        while (got < buf.length) {
          const n = readSync(fd, buf, got, buf.length - got, from + got);
          if (n <= 0) break;
          got += n;
        }
        out.push(buf.subarray(0, got));
      }
      return out;
    } finally {
      closeSync(fd);
    }
  };
  return indexedRepodataSource(read, index, options);
}

/** A channel folder on disk (`<dir>/<subdir>/repodata.json`). */
export function localCondaChannel(dir: string): CondaChannel {
  const abs = resolve(dir);
  const url = pathToFileURL(abs).href;
  const source = async (subdir: string, opts: { current?: boolean } = {}) => {
    checkSubdir(subdir);
    const file = join(abs, subdir, opts.current ? "current_repodata.json" : "repodata.json");
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (e) {
      if ((e as { code?: string }).code === "ENOENT") return opts.current ? null : EMPTY;
      throw new ResolverError(
        ResolverErrorCode.FETCH_FAILED,
        `could not read ${file}: ${preview(String(e))}`,
        {
          cause: e,
        },
      );
    }
    return repodataSource(body, { channel: url, subdir, source: file });
  };
  return {
    kind: "conda",
    url,
    source,
    async records(subdir, opts = {}) {
      return (await source(subdir, opts))?.all() ?? null;
    },
  };
}

/** A channel from a URL (`http(s)://`, `file://`) or a local folder path. */
export function condaChannel(location: string, options: HttpChannelOptions = {}): CondaChannel {
  if (/^https?:\/\//.test(location)) return httpCondaChannel(location, options);
  if (location.startsWith("file://")) return localCondaChannel(fileURLToPath(location));
  if (location.startsWith("/") || location.startsWith(".")) return localCondaChannel(location);
  throw new ResolverError(
    ResolverErrorCode.SPEC_INVALID,
    `channel must be a URL or a folder path, e.g. https://conda.anaconda.org/conda-forge or ./channel; received ${preview(location)} (named channels need a base URL)`,
  );
}

function checkSubdir(subdir: string): void {
  if (!/^[a-z0-9_-]+$/.test(subdir)) {
    throw new ResolverError(
      ResolverErrorCode.PLATFORM_UNKNOWN,
      `subdir must look like linux-64 or noarch; received ${preview(subdir)}`,
    );
  }
}
