import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { makeTempDir } from "@mlenv/test-utils";
import { Hono } from "hono";
import { generateToken, hashToken, provideTokenLookup } from "../src/auth";
import { FsBlobStore } from "../src/blobs/blobStore";
import { SqliteStore } from "../src/database";
import { errorHandler } from "../src/http/errors";
import { generateSigningKey, UrlSigner } from "../src/signing/urlSigner";
import type { WheelCatalog } from "../src/wheels/catalog";
import { wheelRoutes } from "../src/wheels/routes";
import { openWheelCatalog } from "../src/wheels/sqlCatalog";
import type { ZipLimits } from "../src/wheels/zipArchive";

/** A real HTTP server (loopback) running only the wheel routes over SQLite + fs blobs. Tests only. */
export interface WheelTestServer {
  url: string;
  /** Writer token of workspace `default`; `otherToken` is an admin of workspace `other`. */
  token: string;
  readerToken: string;
  otherToken: string;
  adminToken: string;
  signer: UrlSigner;
  catalog: WheelCatalog;
  /** Id of workspace `default`. */
  workspaceId: string;
  blobDir: string;
  /** Request paths seen, in order. */
  paths: string[];
  close(): Promise<void>;
}

/**
 * `holdLookups: n` makes the first n `catalog.get` calls wait until all n have been made, so n
 * concurrent uploads all pass their "is the name taken?" check before any of them publishes
 * (a deterministic race). The catalog itself is the real one.
 */
export async function startWheelTestServer(
  options: { limits?: Partial<ZipLimits>; holdLookups?: number } = {},
): Promise<WheelTestServer> {
  const dir = makeTempDir("mlenv-wheels-");
  const file = join(dir.path, "mlenv.db");
  const store = new SqliteStore(file);
  await store.migrate();
  const now = new Date().toISOString();
  const tokens: Record<string, string> = {};
  const def = await store.createWorkspace("default", now);
  const other = await store.createWorkspace("other", now);
  for (const [key, ws, role] of [
    ["writer", def.id, "writer"],
    ["reader", def.id, "reader"],
    ["admin", def.id, "admin"],
    ["other", other.id, "admin"],
  ] as const) {
    tokens[key] = generateToken();
    await store.createToken({ workspaceId: ws, name: key, role, tokenHash: hashToken(tokens[key]!), now });
  }
  const blobDir = join(dir.path, "blobs");
  const catalog = openWheelCatalog({ sqliteFile: file });
  let held = 0;
  let release: () => void = () => {};
  const allHeld = new Promise<void>((resolve) => {
    release = resolve;
  });
  const served: WheelCatalog = new Proxy(catalog, {
    get(target, key) {
      const value = Reflect.get(target, key) as unknown;
      if (typeof value !== "function") return value;
      if (key === "get" && options.holdLookups !== undefined) {
        return async (...args: Parameters<WheelCatalog["get"]>) => {
          const out = await target.get(...args);
          if (held < options.holdLookups!) {
            held++;
            if (held === options.holdLookups) release();
            await allHeld;
          }
          return out;
        };
      }
      return value.bind(target);
    },
  });
  const signer = new UrlSigner(generateSigningKey());
  const routes = wheelRoutes({
    store,
    blobs: new FsBlobStore(blobDir),
    catalog: served,
    signer,
    ...(options.limits ? { limits: options.limits } : {}),
  });
  // mounted as createApp mounts it: behind the token lookup (uncached here; there, the registry's)
  const lookup = (token: string) => store.findToken(hashToken(token));
  const app = new Hono().use("*", provideTokenLookup(lookup)).route("/", routes);
  app.onError(errorHandler(undefined));
  const paths: string[] = [];
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      {
        // the Node request and response travel on (as in the server): uploads stream from them
        fetch: (req, env) => {
          paths.push(new URL(req.url).pathname);
          return app.fetch(req, env);
        },
        hostname: "127.0.0.1",
        port: 0,
      },
      () => resolve(s),
    );
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    token: tokens.writer!,
    readerToken: tokens.reader!,
    adminToken: tokens.admin!,
    otherToken: tokens.other!,
    signer,
    catalog,
    workspaceId: def.id,
    blobDir,
    paths,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await catalog.close();
      await store.close();
      dir.cleanup();
    },
  };
}
