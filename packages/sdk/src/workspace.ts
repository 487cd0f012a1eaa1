import {
  type NonJsonResponse,
  type RouteBodyInput,
  type RouteDeclaration,
  type RouteParams,
  type RouteQueryInput,
  type RouteResponse,
  routePath,
} from "@mlenv/api";
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

type QueryValue = string | number | boolean | undefined;
type SuccessResponse<R extends RouteDeclaration> = R["responses"][Extract<
  keyof R["responses"],
  200 | 201 | 202 | 204
>];

/**
 * What {@link Workspace.call} sends for a route: its path parameters (when its path has any), its
 * query (names from the declaration; numbers and booleans are sent as text) and its JSON body.
 */
export type CallInput<R extends RouteDeclaration> = (keyof RouteParams<R> extends never
  ? { params?: undefined }
  : { params: RouteParams<R> }) &
  (RouteQueryInput<R> extends undefined
    ? { query?: undefined }
    : { query?: { [K in keyof NonNullable<RouteQueryInput<R>>]?: QueryValue } }) &
  (RouteBodyInput<R> extends undefined
    ? { body?: undefined }
    : R["optionalBody"] extends true
      ? { body?: RouteBodyInput<R> }
      : { body: RouteBodyInput<R> });

/** What {@link Workspace.call} answers: the declared JSON, or bytes for a route that answers bytes. */
export type CallResult<R extends RouteDeclaration> = [Extract<SuccessResponse<R>, NonJsonResponse>] extends [
  never,
]
  ? RouteResponse<R>
  : Uint8Array;

function answersBytes(route: RouteDeclaration): boolean {
  return Object.entries(route.responses).some(
    ([status, r]) =>
      Number(status) < 300 &&
      typeof r === "object" &&
      r !== null &&
      typeof (r as { contentType?: unknown }).contentType === "string",
  );
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
   * Call one route of the server's contract (`@mlenv/api`): path parameters are URL-encoded into
   * its path, the query and JSON body sent, and the answer typed from the declaration (bytes for
   * a route that answers bytes). Errors as in {@link Workspace.request}.
   */
  async call<R extends RouteDeclaration>(
    route: R,
    ...[input]: keyof RouteParams<R> extends never
      ? RouteBodyInput<R> extends undefined
        ? [input?: CallInput<R>]
        : R["optionalBody"] extends true
          ? [input?: CallInput<R>]
          : [input: CallInput<R>]
      : [input: CallInput<R>]
  ): Promise<CallResult<R>> {
    const i = (input ?? {}) as {
      params?: Record<string, string>;
      query?: RequestOptions["query"];
      body?: unknown;
    };
    const path = routePath(route, (i.params ?? {}) as RouteParams<R>);
    const method = route.method.toUpperCase();
    if (answersBytes(route)) {
      // bytes (artifacts) may take longer than the JSON timeout: no timeout of their own
      const res = await this.#send(method, path, { query: i.query, accept: "*/*", timeout: false });
      if (!res.ok) await readAnswer(res, method, this.#urlOf(path, i.query));
      return new Uint8Array(await res.arrayBuffer()) as CallResult<R>;
    }
    return this.request<CallResult<R>>(method, path, {
      ...(i.query ? { query: i.query } : {}),
      ...(i.body !== undefined ? { body: i.body } : {}),
    });
  }

  #urlOf(path: string, query: RequestOptions["query"]): URL {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    return url;
  }

  async #send(
    method: string,
    path: string,
    options: { query?: RequestOptions["query"]; body?: unknown; accept: string; timeout?: false },
  ): Promise<Response> {
    const url = this.#urlOf(path, options.query);
    const headers: Record<string, string> = { accept: options.accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers };
    if (options.timeout !== false) init.signal = AbortSignal.timeout(this.#timeoutMs);
    if (options.body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    try {
      return await this.#fetch(url, init);
    } catch (cause) {
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new MlenvError(
        SdkErrorCodes.network,
        `Expected an mlenv server at ${this.url}; the request ${method} ${url.pathname} failed: ${why}`,
        { cause },
      );
    }
  }

  /**
   * Send one JSON request and return the parsed JSON answer. Errors answered by the server
   * become an {@link MlenvError} with the server's `code`, `status` and `details`.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.#send(method, path, { ...options, accept: "application/json" });
    return (await readAnswer(res, method, this.#urlOf(path, options.query))) as T;
  }
}

/**
 * The parsed JSON answer of a response; an error answer becomes an {@link MlenvError} with the
 * server's `code`, `status` and `details` (or `E_HTTP` without them).
 */
async function readAnswer(res: Response, method: string, url: URL): Promise<unknown> {
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
  return body;
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
