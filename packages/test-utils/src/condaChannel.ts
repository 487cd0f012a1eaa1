import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, normalize, sep } from "node:path";

/** A conda channel served over loopback HTTP. */
export interface CondaChannelServer {
  /** Channel URL, e.g. `http://127.0.0.1:41234/channel`. */
  url: string;
  /** Every request seen: method, path and response status (to assert caching). */
  requests: { method: string; path: string; status: number }[];
  /** Replace or add a file in memory (e.g. a new repodata.json, to test cache refreshes). */
  setFile(path: string, body: string | Uint8Array, mtime?: Date): void;
  close(): Promise<void>;
}

export interface CondaChannelOptions {
  /** A channel folder on disk (`<subdir>/repodata.json`, package files...). */
  dir?: string;
  /** In-memory files, path (e.g. `linux-64/repodata.json`) → body. Wins over `dir`. */
  files?: Record<string, string | Uint8Array>;
  /** Path prefix of the channel (default `channel`). */
  name?: string;
}

/**
 * Serve a conda channel on 127.0.0.1 with strong ETags and Last-Modified, answering
 * If-None-Match / If-Modified-Since with 304, so clients' on-disk caches can be tested for real.
 */
export async function serveCondaChannel(options: CondaChannelOptions): Promise<CondaChannelServer> {
  const name = options.name ?? "channel";
  const mem = new Map<string, { body: Buffer; mtime: Date; etag?: string }>();
  const started = new Date(Math.floor(Date.now() / 1000) * 1000);
  for (const [p, b] of Object.entries(options.files ?? {}))
    mem.set(p, { body: Buffer.from(b), mtime: started });
  const requests: CondaChannelServer["requests"] = [];

  const lookup = (rel: string): { body: Buffer; mtime: Date; etag?: string } | undefined => {
    const m = mem.get(rel);
    if (m) return m;
    if (!options.dir) return undefined;
    const full = normalize(join(options.dir, rel));
    if (!full.startsWith(normalize(options.dir) + sep)) return undefined;
    try {
      const st = statSync(full);
      if (!st.isFile()) return undefined;
      return { body: readFileSync(full), mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000) };
    } catch {
      return undefined;
    }
  };

  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0] ?? "/");
    const prefix = `/${name}/`;
    const done = (status: number) => requests.push({ method: req.method ?? "GET", path, status });
    const file = path.startsWith(prefix) ? lookup(path.slice(prefix.length)) : undefined;
    if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      done(404);
      return;
    }
    // hashed once per content, like a real server's precomputed ETag
    file.etag ??= `"${createHash("sha256").update(file.body).digest("hex").slice(0, 32)}"`;
    const etag = file.etag;
    const lastModified = file.mtime.toUTCString();
    const inm = req.headers["if-none-match"];
    const ims = req.headers["if-modified-since"];
    const notModified =
      inm !== undefined ? inm === etag : ims !== undefined && Date.parse(ims) >= file.mtime.getTime();
    if (notModified) {
      res.writeHead(304, { etag, "last-modified": lastModified }).end();
      done(304);
      return;
    }
    res.writeHead(200, {
      "content-type": path.endsWith(".json") ? "application/json" : "application/octet-stream",
      "content-length": String(file.body.length),
      etag,
      "last-modified": lastModified,
    });
    res.end(req.method === "HEAD" ? undefined : file.body);
    done(200);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    requests,
    setFile(p, body, mtime) {
      mem.set(p, {
        body: Buffer.from(body),
        mtime: mtime ?? new Date(Math.floor(Date.now() / 1000) * 1000 + 1000),
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Split a flat `{filename: record}` index (like conda's tests/data/index4.json) into channel
 * files the way conda's tests do: records with subdir noarch (or a noarch field) go to
 * `noarch/repodata.json`, the rest to `<subdir>/repodata.json`.
 */
export function channelFilesFromFlatIndex(
  flat: Record<string, Record<string, unknown>>,
  subdir = "linux-64",
): Record<string, string> {
  const host: Record<string, unknown> = {};
  const noarch: Record<string, unknown> = {};
  for (const [fn, rec] of Object.entries(flat)) {
    const isNoarch = rec.subdir === "noarch" || (rec.noarch !== undefined && rec.noarch !== null);
    if (isNoarch) noarch[fn] = { ...rec, subdir: "noarch" };
    else host[fn] = { ...rec, subdir };
  }
  const doc = (sd: string, packages: Record<string, unknown>) =>
    JSON.stringify({ info: { subdir: sd }, packages, "packages.conda": {}, repodata_version: 1 });
  return { [`${subdir}/repodata.json`]: doc(subdir, host), "noarch/repodata.json": doc("noarch", noarch) };
}
