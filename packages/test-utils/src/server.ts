import { randomBytes } from "node:crypto";
import { makeTempDir } from "./tempDir";

type LogFn = (msg: string, fields?: Record<string, unknown>) => void;

/** The structural shape of @mlenv/server's `startServer` (injected to keep packages acyclic). */
export type StartServerFn = (options: {
  dataDir: string;
  database?: string;
  bootstrapToken?: string;
  host?: string;
  port?: number;
  logger?: { debug: LogFn; info: LogFn; warn: LogFn; error: LogFn };
}) => Promise<{ url: string; port: number; close(): Promise<void> }>;

/** One captured log line of a test server. */
export interface CapturedLog {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields: Record<string, unknown>;
}

export interface TestServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Admin token of the `default` workspace. */
  token: string;
  dataDir: string;
  /** Everything the server logged. */
  logs: CapturedLog[];
  /** Stop the server and remove its data dir (unless `dataDir` was given). */
  stop(): Promise<void>;
}

/**
 * Start a real registry server over real HTTP on 127.0.0.1 with a fresh SQLite data dir (or the
 * given PostgreSQL URL) and a known admin token. Usage:
 *
 *   import { startServer } from "@mlenv/server";
 *   const srv = await startTestServer(startServer);            // SQLite
 *   const srv = await startTestServer(startServer, { database: pg.url });
 *   afterAll(() => srv.stop());
 */
export async function startTestServer(
  startServer: StartServerFn,
  options: { database?: string; dataDir?: string; token?: string; blobDir?: string } = {},
): Promise<TestServer> {
  const temp = options.dataDir ? null : makeTempDir("mlenv-server-");
  const dataDir = options.dataDir ?? temp!.path;
  const token = options.token ?? `mlenv_${randomBytes(32).toString("base64url")}`;
  const logs: CapturedLog[] = [];
  const capture =
    (level: CapturedLog["level"]): LogFn =>
    (msg, fields = {}) => {
      logs.push({ level, msg, fields });
    };
  let running: Awaited<ReturnType<StartServerFn>>;
  try {
    running = await startServer({
      dataDir,
      host: "127.0.0.1",
      port: 0,
      bootstrapToken: token,
      ...(options.database ? { database: options.database } : {}),
      ...(options.blobDir ? { blobDir: options.blobDir } : {}),
      logger: {
        debug: capture("debug"),
        info: capture("info"),
        warn: capture("warn"),
        error: capture("error"),
      },
    });
  } catch (e) {
    temp?.cleanup();
    throw e;
  }
  return {
    url: running.url,
    token,
    dataDir,
    logs,
    async stop() {
      await running.close();
      temp?.cleanup();
    },
  };
}

/** A tiny JSON client of a test server (answers are checked field by field with expect). */
// biome-ignore lint/suspicious/noExplicitAny: test answers are checked field by field with expect()
export type ApiClient = <T = any>(
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: T }>;

/** An {@link ApiClient} of the server at `url` with `token`. */
export function apiClient(url: string, token: string): ApiClient {
  return async function api<T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T }> {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
  };
}

/** Files for `POST /api/v1/snapshots`. */
export function snapshotFiles(files: Record<string, string>): { path: string; content: string }[] {
  return Object.entries(files).map(([path, text]) => ({
    path,
    content: Buffer.from(text).toString("base64"),
  }));
}

/**
 * Uploads `files` (path to text) as a snapshot through `api`; answers its id. Throws with the
 * answer when the server does not create it (201).
 */
export async function uploadSnapshot(api: ApiClient, files: Record<string, string>): Promise<string> {
  const r = await api<{ id: string }>("POST", "/api/v1/snapshots", { files: snapshotFiles(files) });
  if (r.status !== 201) throw new Error(`snapshot upload: ${r.status} ${JSON.stringify(r.json)}`);
  return r.json.id;
}
