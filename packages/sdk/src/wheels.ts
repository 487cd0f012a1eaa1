import { routePath, wheels as W } from "@mlenv/api";
import type { Environment } from "./environment";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { retryingFetch } from "./internal/retry";
import type { Workspace } from "./workspace";

/**
 * A private wheel as the server describes it: `project` is the PEP 503 normalised name,
 * `revision` 1 for the first upload (+1 per overwrite), `reference` the
 * `mlenv+wheel://<workspace>/<filename>#sha256=<hex>` to put in a pip block.
 */
export type WheelInfo = W.Wheel;

export type WheelRevisionInfo = W.WheelRevision;

/** `status` created: new file; unchanged: the same bytes were already there; replaced: overwritten. */
export type WheelUploadResult = W.WheelUpload;

/** A short-lived signed `url` (no token needed) and `requirement`, a pip line `name @ <url>#sha256=<hex>`. */
export type ResolvedWheel = W.ResolvedWheel;

/** A build secret: its name, dates and the hosts or URL prefixes it may be sent to (never its value). */
export type SecretInfo = W.Secret;

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
    const url = `${this.workspace.url}${routePath(W.uploadWheel, { filename })}${options.overwrite ? "?overwrite=true" : ""}`;
    const res = await this.#send(url, {
      method: "PUT",
      headers: { ...this.#auth(), "content-type": "application/octet-stream", accept: "application/json" },
      body: bytes as Uint8Array<ArrayBuffer>,
    });
    return (await this.#json(res, "PUT", url)) as WheelUploadResult;
  }

  async list(options: { project?: string } = {}): Promise<WheelInfo[]> {
    return (await this.workspace.call(W.listWheels, { query: { project: options.project } })).items;
  }

  show(filename: string): Promise<W.WheelDetail> {
    return this.workspace.call(W.getWheel, { params: { filename } });
  }

  /** The wheel's bytes: the current revision, or the one with `sha256` (kept after overwrites). */
  async download(filename: string, options: { sha256?: string } = {}): Promise<Uint8Array> {
    const q = options.sha256 ? `?sha256=${encodeURIComponent(options.sha256)}` : "";
    const url = `${this.workspace.url}${routePath(W.downloadWheel, { filename })}${q}`;
    const res = await this.#send(url, { method: "GET", headers: this.#auth() });
    if (!res.ok) await this.#json(res, "GET", url);
    return new Uint8Array(await res.arrayBuffer());
  }

  yank(filename: string, reason?: string): Promise<WheelInfo> {
    return this.workspace.call(W.yankWheel, {
      params: { filename },
      body: reason === undefined ? {} : { reason },
    });
  }

  unyank(filename: string): Promise<WheelInfo> {
    return this.workspace.call(W.unyankWheel, { params: { filename } });
  }

  /** A short-lived signed URL for a `mlenv+wheel://` reference. */
  resolve(reference: string, options: { ttlSeconds?: number } = {}): Promise<ResolvedWheel> {
    return this.workspace.call(W.resolveWheel, {
      body: { reference, ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }) },
    });
  }

  /** A pip block's lines with each `mlenv+wheel://` reference replaced by a signed requirement. */
  async render(requirements: string[], options: { ttlSeconds?: number } = {}): Promise<string[]> {
    const out = await this.workspace.call(W.renderWheels, {
      body: { requirements, ...(options.ttlSeconds === undefined ? {} : { ttlSeconds: options.ttlSeconds }) },
    });
    return out.requirements;
  }

  /**
   * The pip `--index-url` of this workspace's private index. With `credentials`, the token is
   * embedded as the basic-auth password (for scripts; it is a secret).
   */
  async indexUrl(options: { credentials?: boolean } = {}): Promise<string> {
    const me = await this.workspace.environments.whoami();
    const u = new URL(`${this.workspace.url}${routePath(W.indexRoot, { workspace: me.workspace })}`);
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
    return (await this.workspace.call(W.listSecrets)).items;
  }

  /**
   * Set a secret and the hosts (`pypi.corp.example`) or URL prefixes it may be sent to; a pip
   * block using it anywhere else is refused at build and run time.
   */
  setSecret(name: string, value: string, options: { allowedHosts?: string[] } = {}): Promise<SecretInfo> {
    return this.workspace.call(W.putSecret, {
      params: { name },
      body: { value, allowedHosts: options.allowedHosts ?? [] },
    });
  }

  async deleteSecret(name: string): Promise<void> {
    await this.workspace.call(W.deleteSecret, { params: { name } });
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
