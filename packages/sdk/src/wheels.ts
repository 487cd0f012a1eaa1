import type { Environment } from "./environment";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { retryingFetch } from "./internal/retry";
import type { Workspace } from "./workspace";

/** A private wheel as the server describes it. */
export interface WheelInfo {
  filename: string;
  /** PEP 503 normalised project name. */
  project: string;
  name: string;
  version: string;
  sha256: string;
  size: number;
  requiresPython: string | null;
  summary: string | null;
  yanked: boolean;
  yankedReason: string | null;
  /** 1 for the first upload, +1 per overwrite. */
  revision: number;
  uploadedAt: string;
  uploadedBy: string;
  /** `mlenv+wheel://<workspace>/<filename>#sha256=<hex>`: what to put in a pip block. */
  reference: string;
}

export interface WheelRevisionInfo {
  filename: string;
  revision: number;
  sha256: string;
  size: number;
  metadataSha256: string;
  uploadedAt: string;
  uploadedBy: string;
}

export interface WheelUploadResult {
  /** created: new file; unchanged: the same bytes were already there; replaced: overwritten. */
  status: "created" | "unchanged" | "replaced";
  wheel: WheelInfo;
  previous: { revision: number; sha256: string } | null;
}

export interface ResolvedWheel {
  reference: string;
  filename: string;
  name: string;
  sha256: string;
  /** Short-lived signed download URL (no token needed). */
  url: string;
  /** `name @ <url>#sha256=<hex>`, a pip requirement line. */
  requirement: string;
  expiresAt: string;
}

export interface SecretInfo {
  name: string;
  createdAt: string;
  updatedAt: string;
  /** Hosts or URL prefixes the secret may be sent to (absent from servers before issue 14). */
  allowedHosts?: string[];
}

const seg = encodeURIComponent;

/**
 * Private wheels of a workspace: upload (validated by the server), list, show, download, yank,
 * and resolving `mlenv+wheel://` references to signed URLs. Isomorphic (`fetch` only).
 */
export class WheelsClient {
  readonly #fetch: typeof fetch;

  constructor(
    readonly workspace: Workspace,
    options: { fetch?: typeof fetch } = {},
  ) {
    // the workspace's fetch already retries (it is used as is); another one gets the same rules
    this.#fetch = retryingFetch(options.fetch ?? globalThis.fetch);
  }

  /**
   * Upload a wheel. The same bytes again answer `unchanged`; different bytes under an existing
   * file name fail with `E_WHEEL_EXISTS` unless `overwrite` (the old bytes stay downloadable).
   */
  async upload(
    filename: string,
    bytes: Uint8Array,
    options: { overwrite?: boolean } = {},
  ): Promise<WheelUploadResult> {
    const url = `${this.workspace.url}/upload/v1/wheels/${seg(filename)}${options.overwrite ? "?overwrite=true" : ""}`;
    const res = await this.#send(url, {
      method: "PUT",
      headers: { ...this.#auth(), "content-type": "application/octet-stream", accept: "application/json" },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    return (await this.#json(res, "PUT", url)) as WheelUploadResult;
  }

  async list(options: { project?: string } = {}): Promise<WheelInfo[]> {
    const out = await this.workspace.request<{ items: WheelInfo[] }>("GET", "/api/v1/wheels", {
      query: { project: options.project },
    });
    return out.items;
  }

  show(filename: string): Promise<WheelInfo & { revisions: WheelRevisionInfo[] }> {
    return this.workspace.request("GET", `/api/v1/wheels/${seg(filename)}`);
  }

  /** The wheel's bytes: the current revision, or the one with `sha256` (kept after overwrites). */
  async download(filename: string, options: { sha256?: string } = {}): Promise<Uint8Array> {
    const q = options.sha256 ? `?sha256=${seg(options.sha256)}` : "";
    const url = `${this.workspace.url}/api/v1/wheels/${seg(filename)}/download${q}`;
    const res = await this.#send(url, { method: "GET", headers: this.#auth() });
    if (!res.ok) await this.#json(res, "GET", url);
    return new Uint8Array(await res.arrayBuffer());
  }

  yank(filename: string, reason?: string): Promise<WheelInfo> {
    return this.workspace.request("POST", `/api/v1/wheels/${seg(filename)}/yank`, {
      body: reason === undefined ? {} : { reason },
    });
  }

  unyank(filename: string): Promise<WheelInfo> {
    return this.workspace.request("POST", `/api/v1/wheels/${seg(filename)}/unyank`, { body: {} });
  }

  /** A short-lived signed URL for a `mlenv+wheel://` reference. */
  resolve(reference: string, options: { ttlSeconds?: number } = {}): Promise<ResolvedWheel> {
    return this.workspace.request("POST", "/api/v1/wheels/resolve", {
      body: { reference, ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }) },
    });
  }

  /** A pip block's lines with each `mlenv+wheel://` reference replaced by a signed requirement. */
  async render(requirements: string[], options: { ttlSeconds?: number } = {}): Promise<string[]> {
    const out = await this.workspace.request<{ requirements: string[] }>("POST", "/api/v1/wheels/render", {
      body: { requirements, ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }) },
    });
    return out.requirements;
  }

  /**
   * The pip `--index-url` of this workspace's private index. With `credentials`, the token is
   * embedded as the basic-auth password (for scripts; it is a secret).
   */
  async indexUrl(options: { credentials?: boolean } = {}): Promise<string> {
    const me = await this.workspace.request<{ workspace: string }>("GET", "/api/v1/whoami");
    const u = new URL(`${this.workspace.url}/pypi/${seg(me.workspace)}/simple/`);
    if (options.credentials) {
      if (!this.workspace.token) {
        throw new MlenvError(
          SdkErrorCodes.config,
          "Expected a token to put into the index URL; none is configured.",
        );
      }
      u.username = "__token__";
      u.password = this.workspace.token;
    }
    return u.toString();
  }

  /** Workspace secrets (admin): names and dates only, values are write-only. */
  async listSecrets(): Promise<SecretInfo[]> {
    return (await this.workspace.request<{ items: SecretInfo[] }>("GET", "/api/v1/secrets")).items;
  }

  /**
   * Set a secret and the hosts (`pypi.corp.example`) or URL prefixes it may be sent to; a pip
   * block using it anywhere else is refused at build and run time.
   */
  setSecret(name: string, value: string, options: { allowedHosts?: string[] } = {}): Promise<SecretInfo> {
    return this.workspace.request("PUT", `/api/v1/secrets/${seg(name)}`, {
      body: { value, allowedHosts: options.allowedHosts ?? [] },
    });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.workspace.request("DELETE", `/api/v1/secrets/${seg(name)}`);
  }

  #auth(): Record<string, string> {
    return this.workspace.token ? { authorization: `Bearer ${this.workspace.token}` } : {};
  }

  async #send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.#fetch(url, { ...init, signal: AbortSignal.timeout(10 * 60_000) });
    } catch (cause) {
      throw new MlenvError(
        SdkErrorCodes.network,
        `Expected an mlenv server at ${this.workspace.url}; ${init.method} ${new URL(url).pathname} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  }

  async #json(res: Response, method: string, url: string): Promise<unknown> {
    const text = await res.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch (cause) {
      throw new MlenvError(
        res.ok ? SdkErrorCodes.badResponse : SdkErrorCodes.http,
        `Expected JSON from ${method} ${new URL(url).pathname}; received HTTP ${res.status} ${preview(text)}`,
        { cause, status: res.status },
      );
    }
    if (!res.ok) {
      const b = body as { code?: unknown; message?: unknown; details?: unknown } | undefined;
      if (b && typeof b.code === "string" && typeof b.message === "string") {
        throw new MlenvError(b.code, b.message, { status: res.status, details: b.details });
      }
      throw new MlenvError(
        SdkErrorCodes.http,
        `Expected a successful answer to ${method} ${new URL(url).pathname}; received HTTP ${res.status} ${preview(text)}`,
        { status: res.status },
      );
    }
    return body;
  }
}

/**
 * The reference's `Environment.add_private_pip_wheel`: upload a wheel to the workspace and put
 * its stable reference (`mlenv+wheel://<workspace>/<filename>#sha256=<hex>`) in the
 * environment's pip block, replacing any line for the same package. Returns the reference; the
 * definition never holds a credential or a signed URL. `existOk` accepts identical bytes already
 * uploaded (different bytes still fail with `E_WHEEL_EXISTS` unless `overwrite`).
 */
export async function addPrivatePipWheel(
  workspace: Workspace,
  wheel: { filename: string; bytes: Uint8Array },
  options: { environment?: Environment; existOk?: boolean; overwrite?: boolean; fetch?: typeof fetch } = {},
): Promise<string> {
  const client = options.fetch ? new WheelsClient(workspace, { fetch: options.fetch }) : workspace.wheels;
  const out = await client.upload(wheel.filename, wheel.bytes, { overwrite: options.overwrite ?? false });
  if (out.status === "unchanged" && options.existOk === false) {
    throw new MlenvError(
      "E_WHEEL_EXISTS",
      `Expected ${preview(wheel.filename)} to be new (existOk: false), but it was already uploaded with the same bytes`,
      { status: 409 },
    );
  }
  options.environment?.python.condaDependencies.addPipPackage(out.wheel.reference);
  return out.wheel.reference;
}
