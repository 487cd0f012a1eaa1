import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { preview, ResolverError, ResolverErrorCode } from "../errors";
import { type Fetcher, nodeGet, responseBytes, type SimpleResponse } from "../internal/http";
import { type CondaRecord, type CondaRecordSource, repodataSource } from "./record";

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
  const get = async (fileUrl: string, alloc?: (size: number) => Buffer): Promise<Buffer | null> => {
    const key = createHash("sha256").update(fileUrl).digest("hex").slice(0, 40);
    const metaPath = options.cacheDir ? join(options.cacheDir, `${key}.meta.json`) : undefined;
    const bodyPath = options.cacheDir ? join(options.cacheDir, `${key}.json`) : undefined;
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
    if (res.status === 304 && bodyPath) {
      try {
        return await readFile(bodyPath);
      } catch {
        // cache body vanished: refetch unconditionally
        const again = await doFetch(fileUrl, { headers: { ...options.headers } });
        if (!again.ok) return null;
        return responseBytes(again);
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
    if (metaPath && bodyPath && options.cacheDir) {
      const m: CacheMeta = { url: fileUrl };
      const etag = res.headers.get("etag");
      const lm = res.headers.get("last-modified");
      if (etag) m.etag = etag;
      if (lm) m.lastModified = lm;
      await mkdir(options.cacheDir, { recursive: true });
      const tmp = `${bodyPath}.${process.pid}.tmp`;
      await writeFile(tmp, body);
      await rename(tmp, bodyPath);
      await writeFile(metaPath, JSON.stringify(m));
    }
    return body;
  };
  const source = async (
    subdir: string,
    opts: { current?: boolean; alloc?: ((size: number) => Buffer) | undefined } = {},
  ) => {
    checkSubdir(subdir);
    const file = opts.current ? "current_repodata.json" : "repodata.json";
    const fileUrl = `${base}/${subdir}/${file}`;
    const body = await get(fileUrl, opts.alloc);
    if (body === null) return opts.current ? null : EMPTY;
    return repodataSource(body, { channel: base, subdir, source: fileUrl });
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
