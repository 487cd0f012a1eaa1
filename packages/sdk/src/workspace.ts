import { AdminClient } from "./admin";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { DEFAULT_RETRY, type RetryPolicy, retryingFetch } from "./internal/retry";
import { RegistryClient } from "./registry";
import { WheelsClient } from "./wheels";

/** Options for {@link Workspace}. */
export interface WorkspaceOptions {
  /** Base URL of an mlenv server, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** API token (sent as `Authorization: Bearer <token>`). */
  token?: string | undefined;
  /** A `fetch` implementation; defaults to the global one. */
  fetch?: typeof fetch;
  /** Abort a request after this many milliseconds (default 30 s). */
  timeoutMs?: number;
  /**
   * Retries (default 4 attempts, backoff from 250 ms): idempotent requests (GET, HEAD, PUT,
   * DELETE) are retried on a stale keep-alive connection and on HTTP 502/503; any request on a
   * refused connection (it was never sent); other requests are never sent twice. `false` sends
   * every request once.
   */
  retry?: Partial<RetryPolicy> | false;
}

/** Per-request options of {@link Workspace.request}. */
export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
}

/** The environment variables the SDK understands. */
export interface WorkspaceEnv {
  MLENV_URL?: string | undefined;
  MLENV_TOKEN?: string | undefined;
}

/**
 * A connection to one workspace of an mlenv server (url + token). Isomorphic: uses `fetch`.
 * In Node, `workspaceFromConfig()` from `@mlenv/sdk/node` also reads the config file.
 */
export class Workspace {
  readonly url: string;
  readonly token: string | undefined;
  readonly #fetch: typeof fetch;
  /** The `fetch` this workspace sends with (for non-JSON requests), with its retry rules. */
  readonly fetch: typeof fetch;
  readonly #timeoutMs: number;

  constructor(options: WorkspaceOptions) {
    this.url = normaliseUrl(options.url);
    this.token = options.token;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") {
      throw new MlenvError(
        SdkErrorCodes.config,
        "Expected a global fetch (Node >= 20 or a browser); none found.",
      );
    }
    const bound = f.bind(globalThis) as typeof fetch;
    this.#fetch =
      options.retry === false ? bound : retryingFetch(bound, { ...DEFAULT_RETRY, ...options.retry });
    this.fetch = this.#fetch;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Typed calls to this workspace's environment registry. */
  get environments(): RegistryClient {
    return new RegistryClient(this);
  }

  /** Private wheels of this workspace: upload, list, yank, resolve to signed URLs. */
  get wheels(): WheelsClient {
    return new WheelsClient(this, { fetch: this.#fetch });
  }

  /** Admin calls: tokens and workspaces (needs an admin token). */
  get admin(): AdminClient {
    return new AdminClient(this);
  }

  /** A workspace from `MLENV_URL` and `MLENV_TOKEN` (pass `process.env` in Node). */
  static fromEnv(env: WorkspaceEnv): Workspace {
    const url = env.MLENV_URL?.trim();
    if (!url) {
      throw new MlenvError(
        SdkErrorCodes.config,
        "Expected MLENV_URL to name an mlenv server (e.g. MLENV_URL=http://127.0.0.1:8080); it is not set.",
      );
    }
    return new Workspace({ url, token: env.MLENV_TOKEN?.trim() || undefined });
  }

  /**
   * Send one JSON request and return the parsed JSON answer. Errors answered by the server
   * become an {@link MlenvError} with the server's `code`, `status` and `details`.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers, signal: AbortSignal.timeout(this.#timeoutMs) };
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    let res: Response;
    try {
      res = await this.#fetch(url, init);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new MlenvError(
        SdkErrorCodes.network,
        `Expected an mlenv server at ${this.url}; the request ${method} ${url.pathname} failed: ${why}`,
        { cause },
      );
    }
    const text = await res.text();
    let body: unknown;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch (cause) {
        if (!res.ok) throw httpError(res, method, url, text);
        throw new MlenvError(
          SdkErrorCodes.badResponse,
          `Expected JSON from ${method} ${url.pathname}; received ${preview(text)}`,
          { cause, status: res.status },
        );
      }
    }
    if (!res.ok) {
      if (isErrorBody(body)) {
        throw new MlenvError(body.code, body.message, { status: res.status, details: body.details });
      }
      throw httpError(res, method, url, text);
    }
    return body as T;
  }
}

/** Answer bytes of a non-JSON endpoint (artifacts); errors as in {@link Workspace.request}. */
export async function requestBytes(
  ws: Workspace,
  fetchFn: typeof fetch,
  path: string,
  query: Record<string, string>,
): Promise<Uint8Array> {
  const url = new URL(ws.url + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const headers: Record<string, string> = {};
  if (ws.token) headers.authorization = `Bearer ${ws.token}`;
  let res: Response;
  try {
    res = await fetchFn(url, { headers });
  } catch (cause) {
    throw new MlenvError(
      SdkErrorCodes.network,
      `Expected an mlenv server at ${ws.url}; GET ${url.pathname} failed`,
      {
        cause,
      },
    );
  }
  if (!res.ok) {
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {}
    if (isErrorBody(body))
      throw new MlenvError(body.code, body.message, { status: res.status, details: body.details });
    throw httpError(res, "GET", url, text);
  }
  return new Uint8Array(await res.arrayBuffer());
}

function httpError(res: Response, method: string, url: URL, text: string): MlenvError {
  return new MlenvError(
    SdkErrorCodes.http,
    `Expected a successful answer to ${method} ${url.pathname}; received HTTP ${res.status} ${preview(text)}`,
    { status: res.status },
  );
}

function isErrorBody(b: unknown): b is { code: string; message: string; details?: unknown } {
  return (
    typeof b === "object" &&
    b !== null &&
    typeof (b as { code?: unknown }).code === "string" &&
    typeof (b as { message?: unknown }).message === "string"
  );
}

function normaliseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch (cause) {
    throw new MlenvError(
      SdkErrorCodes.config,
      `Expected a server URL such as http://127.0.0.1:8080; received ${preview(raw)}`,
      { cause },
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new MlenvError(
      SdkErrorCodes.config,
      `Expected an http:// or https:// server URL such as http://127.0.0.1:8080; received ${preview(raw)}`,
    );
  }
  if (u.username || u.password) {
    throw new MlenvError(
      SdkErrorCodes.config,
      "Expected a server URL without credentials (use a token instead); received a URL with user:password.",
    );
  }
  return u.href.replace(/\/+$/, "");
}
