import { canonicalizeName } from "@mlenv/core";
import { unzipSync } from "fflate";
import { preview, ResolverError, ResolverErrorCode } from "../errors";
import { type Fetcher, nodeGet, type SimpleResponse } from "../internal/http";

/** One distribution file listed by a simple index. */
export interface DistFile {
  project: string;
  filename: string;
  /** Absolute URL of the file. */
  url: string;
  sha256?: string;
  requiresPython?: string;
  /** false, or the PEP 592 reason (empty string when none given). */
  yanked: false | string;
  /** PEP 658/714: the index serves `<url>.metadata`. */
  coreMetadata: boolean;
  /** URL of the index that listed it. */
  index: string;
}

/** A PyPI-compatible simple index. */
export interface PypiIndex {
  readonly kind: "pypi";
  readonly url: string;
  /** Files of a project, or null when the index does not have it. */
  files(project: string): Promise<DistFile[] | null>;
  /** The core METADATA text of a wheel: PEP 658 file when served, else read from the wheel. */
  metadata(file: DistFile): Promise<string>;
}

export interface HttpIndexOptions {
  /** Default: node:http(s) (keep-alive, no fetch/undici to load at start-up). */
  fetch?: typeof fetch;
  headers?: Record<string, string>;
  /** Most requests in flight at once (project pages and metadata together). Default 32. */
  concurrency?: number;
}

/** PEP 503 name normalisation: core's `canonicalizeName`. */

const ACCEPT =
  "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01";

const decodeEntities = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, "&");

/** Parse a PEP 691 JSON project page. */
export function parseJsonProjectPage(text: string, pageUrl: string, project: string): DistFile[] {
  let doc: { files?: unknown };
  try {
    doc = JSON.parse(text) as { files?: unknown };
  } catch (cause) {
    throw new ResolverError(
      ResolverErrorCode.INDEX_INVALID,
      `${pageUrl}: expected PEP 691 JSON like {"files": [...]}; received ${preview(text.slice(0, 200))}`,
      { cause },
    );
  }
  if (!Array.isArray(doc.files)) {
    throw new ResolverError(
      ResolverErrorCode.INDEX_INVALID,
      `${pageUrl}: expected a "files" array; received ${preview(doc)}`,
    );
  }
  const out: DistFile[] = [];
  for (const f of doc.files as Record<string, unknown>[]) {
    if (typeof f?.filename !== "string" || typeof f.url !== "string") continue;
    const hashes = (f.hashes ?? {}) as Record<string, unknown>;
    const cm = f["core-metadata"] ?? f["data-dist-info-metadata"] ?? f["dist-info-metadata"];
    const file: DistFile = {
      project,
      filename: f.filename,
      url: new URL(f.url, pageUrl).href,
      yanked: f.yanked === true ? "" : typeof f.yanked === "string" ? f.yanked : false,
      coreMetadata: cm === true || (typeof cm === "object" && cm !== null),
      index: pageUrl,
    };
    if (typeof hashes.sha256 === "string") file.sha256 = hashes.sha256.toLowerCase();
    if (typeof f["requires-python"] === "string") file.requiresPython = f["requires-python"];
    out.push(file);
  }
  return out;
}

/** Parse a PEP 503 HTML project page (anchors with data-requires-python, data-yanked, data-core-metadata). */
export function parseHtmlProjectPage(text: string, pageUrl: string, project: string): DistFile[] {
  const out: DistFile[] = [];
  const re = /<a\s([^>]*)>([^<]*)<\/a\s*>/gi;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const attrs = new Map<string, string | true>();
    const ar = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
    for (let a = ar.exec(m[1] ?? ""); a; a = ar.exec(m[1] ?? "")) {
      const v = a[2] ?? a[3] ?? a[4];
      attrs.set((a[1] ?? "").toLowerCase(), v === undefined ? true : decodeEntities(v));
    }
    const href = attrs.get("href");
    if (typeof href !== "string") continue;
    const abs = new URL(href, pageUrl);
    const frag = abs.hash.slice(1);
    abs.hash = "";
    const filename =
      decodeURIComponent(abs.pathname.split("/").pop() ?? "") || decodeEntities(m[2] ?? "").trim();
    const yanked = attrs.get("data-yanked");
    const cm = attrs.get("data-core-metadata") ?? attrs.get("data-dist-info-metadata");
    const file: DistFile = {
      project,
      filename,
      url: abs.href,
      yanked: yanked === undefined ? false : yanked === true ? "" : yanked,
      coreMetadata: cm !== undefined && cm !== "false",
      index: pageUrl,
    };
    const h = /^sha256=([0-9a-fA-F]{64})$/.exec(frag);
    if (h) file.sha256 = (h[1] as string).toLowerCase();
    const rp = attrs.get("data-requires-python");
    if (typeof rp === "string" && rp) file.requiresPython = rp;
    out.push(file);
  }
  return out;
}

/** Read `*.dist-info/METADATA` out of wheel bytes. */
export function metadataFromWheel(bytes: Uint8Array, filename: string): string {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, { filter: (f) => /^[^/]+\.dist-info\/METADATA$/.test(f.name) });
  } catch (cause) {
    throw new ResolverError(
      ResolverErrorCode.METADATA_INVALID,
      `${filename} is not a readable wheel (zip): expected a PEP 427 wheel; received ${bytes.length} bytes`,
      { cause },
    );
  }
  const entry = Object.values(files)[0];
  if (!entry) {
    throw new ResolverError(
      ResolverErrorCode.METADATA_INVALID,
      `${filename} has no *.dist-info/METADATA: expected e.g. pkg-1.0.dist-info/METADATA in the wheel`,
    );
  }
  return new TextDecoder().decode(entry);
}

/** A simple index over HTTP(S): PEP 691 JSON preferred, PEP 503 HTML accepted. */
export function httpPypiIndex(url: string, options: HttpIndexOptions = {}): PypiIndex {
  if (!/^https?:\/\/[^\s]+$/.test(url)) {
    throw new ResolverError(
      ResolverErrorCode.SPEC_INVALID,
      `index URL must be http(s), e.g. https://pypi.org/simple; received ${preview(url)}`,
    );
  }
  const base = url.replace(/\/+$/, "");
  const doFetch: Fetcher = options.fetch
    ? (u, { headers }) => (options.fetch as typeof fetch)(u, { headers, redirect: "follow" })
    : nodeGet;
  const limit = limiter(options.concurrency ?? 32);
  const get = (u: string, accept?: string): Promise<SimpleResponse> =>
    limit(async () => {
      try {
        // the body is read inside the slot, so a slot is one whole request
        const res = await doFetch(u, { headers: { ...options.headers, ...(accept ? { accept } : {}) } });
        const body = res.ok ? await res.arrayBuffer() : undefined;
        return body === undefined ? res : bufferedResponse(res, body);
      } catch (cause) {
        if (cause instanceof ResolverError) throw cause;
        throw new ResolverError(
          ResolverErrorCode.FETCH_FAILED,
          `could not fetch ${u}: expected a reachable index such as https://pypi.org/simple; received ${preview(String(cause))}`,
          { cause },
        );
      }
    });
  const pages = new Map<string, Promise<DistFile[] | null>>();
  return {
    kind: "pypi",
    url: base,
    files(project) {
      const name = canonicalizeName(project);
      let p = pages.get(name);
      if (!p) {
        p = (async () => {
          const pageUrl = `${base}/${encodeURIComponent(name)}/`;
          const res = await get(pageUrl, ACCEPT);
          if (res.status === 404 || res.status === 410) return null;
          if (!res.ok) {
            throw new ResolverError(
              ResolverErrorCode.FETCH_FAILED,
              `${pageUrl}: expected HTTP 200; received HTTP ${res.status}`,
            );
          }
          const type = res.headers.get("content-type") ?? "";
          const text = await res.text();
          return type.includes("json")
            ? parseJsonProjectPage(text, res.url || pageUrl, name)
            : parseHtmlProjectPage(text, res.url || pageUrl, name);
        })();
        pages.set(name, p);
      }
      return p;
    },
    async metadata(file) {
      if (file.coreMetadata) {
        const res = await get(`${file.url}.metadata`);
        if (res.ok) return res.text();
      }
      const res = await get(file.url);
      if (!res.ok) {
        throw new ResolverError(
          ResolverErrorCode.FETCH_FAILED,
          `${file.url}: expected HTTP 200 for the wheel; received HTTP ${res.status}`,
        );
      }
      return metadataFromWheel(new Uint8Array(await res.arrayBuffer()), file.filename);
    },
  };
}

/** A response whose body has been read already. */
function bufferedResponse(res: SimpleResponse, body: ArrayBuffer): SimpleResponse {
  return {
    status: res.status,
    ok: res.ok,
    url: res.url,
    headers: res.headers,
    text: async () => new TextDecoder().decode(body),
    arrayBuffer: async () => body,
  };
}

/** Run at most `n` of the given tasks at once, the rest in arrival order. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    // a finished task hands its slot straight to the next waiting one
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * Several indexes. `first-index` (default, like uv): a project comes from the first index that
 * has it, so a private index cannot be shadowed by a public one (dependency confusion).
 * `best-match` (like pip's --extra-index-url): files of every index are merged.
 */
export function multiIndex(
  indexes: PypiIndex[],
  policy: "first-index" | "best-match" = "first-index",
): PypiIndex {
  const owner = new Map<string, PypiIndex>();
  return {
    kind: "pypi",
    url: indexes.map((i) => i.url).join(" "),
    async files(project) {
      if (policy === "first-index") {
        for (const ix of indexes) {
          const f = await ix.files(project);
          if (f?.length) return f;
        }
        return null;
      }
      const all = await Promise.all(indexes.map((ix) => ix.files(project)));
      const merged = all.flatMap((f) => f ?? []);
      return all.every((f) => f === null) ? null : merged;
    },
    async metadata(file) {
      let ix = owner.get(file.index);
      if (!ix) {
        ix = indexes.find((i) => file.index.startsWith(`${i.url}/`)) ?? indexes[0];
        if (ix) owner.set(file.index, ix);
      }
      if (!ix) throw new ResolverError(ResolverErrorCode.INDEX_INVALID, "no index configured");
      return ix.metadata(file);
    },
  };
}
