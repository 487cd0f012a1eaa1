import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { Busboy } from "@fastify/busboy";
import { wheels as W } from "@mlenv/api";
import { canonicalizeName } from "@mlenv/core";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { identify, requireRole } from "../auth";
import { blobResponse } from "../blobs/blobResponse";
import { type BlobDigest, type BlobReader, type BlobStore, FsBlobStore } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { logChange, mount } from "../http/mount";
import { workspaceView } from "../http/view";
import type { Logger } from "../logger";
import {
  type IndexFile,
  negotiateSimpleFormat,
  PYPI_HTML,
  PYPI_JSON,
  renderProjectHtml,
  renderProjectJson,
  renderRootHtml,
  renderRootJson,
} from "../pypi/simpleIndex";
import type { UrlSigner } from "../signing/urlSigner";
import type { AuthenticatedToken, Role, Store } from "../store/types";
import type { WheelCatalog, WheelRecord } from "./catalog";
import { received, WheelError, WheelErrorCodes } from "./errors";
import { formatWheelReference } from "./reference";
import { type ResolveOptions, resolveWheelReference, resolveWheelReferences } from "./resolve";
import { normaliseAllowedHost } from "./secretPolicy";
import type { ValidatedWheel } from "./validateWheel";
import { parseWheelFilename } from "./wheelFilename";
import { WheelValidator } from "./wheelValidator";
import { defaultZipLimits, type ZipLimits } from "./zipArchive";

/** What {@link wheelRoutes} needs; `store` and `blobs` are the registry's own. */
export interface WheelRoutesDeps {
  store: Store;
  blobs: BlobStore;
  catalog: WheelCatalog;
  signer: UrlSigner;
  limits?: Partial<ZipLimits>;
  /** Validates uploads off the main thread (default: a WheelValidator with its defaults). */
  validator?: WheelValidator;
  logger?: Pick<Logger, "info" | "warn" | "error">;
  /** Lifetime of signed URLs handed out by `resolve` (default 3600 s). */
  signedUrlTtlSeconds?: number;
  now?: () => string;
}

const SECRET_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** The JSON form of a wheel in API responses. */
export type WheelInfo = Omit<WheelRecord, "workspaceId" | "metadataSha256"> & {
  /** `mlenv+wheel://<workspace>/<filename>#sha256=<hex>`: what to put in a pip block. */
  reference: string;
};

function info(workspace: string, w: WheelRecord): WheelInfo {
  const { metadataSha256: _m, ...shown } = workspaceView(w);
  return { ...shown, reference: formatWheelReference({ workspace, filename: w.filename, sha256: w.sha256 }) };
}

function tooLarge(limit: number, received: string): WheelError {
  return new WheelError(
    WheelErrorCodes.tooLarge,
    `Expected a wheel of at most ${limit} bytes (MLENV_MAX_WHEEL_BYTES); received ${received}`,
    { details: { limit } },
  );
}

/** An upload spooled to disk: where, its SHA-256 and MD5 (hex) and its size. */
interface Spooled {
  path: string;
  sha256: string;
  md5: string;
  size: number;
}

/** A readable source of bytes, read with backpressure. */
type ByteSource = AsyncIterator<Uint8Array> | null;

/**
 * The request body, read with backpressure. Under @hono/node-server this is the Node request
 * itself: its web stream (`Readable.toWeb`) reads ahead without bound on Node 20, which would
 * buffer a fast upload in memory while the disk catches up.
 */
function requestStream(c: Context): Readable | null {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (incoming instanceof Readable) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as import("node:stream/web").ReadableStream<Uint8Array>) : null;
}

function requestBody(c: Context): ByteSource {
  return requestStream(c)?.[Symbol.asyncIterator]() ?? null;
}

/**
 * Write `body` to `path` while hashing and counting it; past `limit` bytes writing stops and
 * `E_WHEEL_TOO_LARGE` is thrown: at once, or with `drain` after reading the rest (a part of a
 * multipart form, whose parser must see the form's end). The file is removed on any failure.
 */
async function spool(
  body: ByteSource,
  path: string,
  options: { limit: number; drain?: boolean },
): Promise<Spooled> {
  const { limit } = options;
  const file = await open(path, "wx", 0o644);
  const sha256 = createHash("sha256");
  const md5 = createHash("md5");
  let size = 0;
  try {
    while (body) {
      const { done, value } = await body.next();
      if (done) break;
      size += value.length;
      if (size > limit) {
        if (options.drain) continue;
        throw tooLarge(limit, `more than ${limit} bytes`);
      }
      sha256.update(value);
      md5.update(value);
      await file.write(value);
    }
    if (size > limit) throw tooLarge(limit, `more than ${limit} bytes`);
    await file.close();
  } catch (e) {
    await file.close().catch(() => {});
    await rm(path, { force: true });
    throw e;
  }
  return { path, sha256: sha256.digest("hex"), md5: md5.digest("hex"), size };
}

/** Text for an HTTP reason phrase (what twine prints of an error): printable ASCII, one line. */
function reasonPhrase(message: string): string {
  const text = message.replace(/[^\x20-\x7e]+/g, " ").trim();
  return text.length > 400 ? `${text.slice(0, 397)}...` : text;
}

/**
 * Clients of the legacy upload API print the HTTP reason phrase of an error, not its body
 * (`HTTPError: 409 Conflict from <url>` and then the reason): PyPI puts its message there, and
 * so do we, after the one error handler has answered. The JSON body stays as everywhere.
 */
const messageAsReason: MiddlewareHandler = async (c, next) => {
  await next();
  const outgoing = (c.env as { outgoing?: unknown } | undefined)?.outgoing;
  if (c.res.status < 400 || !(outgoing instanceof ServerResponse)) return;
  const body = (await c.res
    .clone()
    .json()
    .catch(() => null)) as { message?: unknown } | null;
  if (typeof body?.message === "string" && body.message !== "")
    outgoing.statusMessage = reasonPhrase(body.message);
};

/** The legacy upload form: its fields (the first value of each) and its `content` part. */
interface LegacyForm {
  fields: Map<string, string>;
  /** The `content` part's file name and bytes on disk, or its file name alone when it was not kept. */
  content: { filename: string; spooled: Spooled | null } | null;
}

const MULTIPART = /^multipart\/form-data\s*;/i;
/** Room for the metadata fields around the file (PyPI limits a description to 1 MiB too). */
const FORM_OVERHEAD = 4 * 1024 * 1024;

/**
 * Read a legacy upload form with a streaming parser: fields into memory (bounded), the `content`
 * part to a temp file (hashed on the way, never held in memory), parts other than a wheel read
 * and dropped. The whole body is always read, so a client still sending is never cut off.
 */
function readLegacyForm(c: Context, options: { path: string; limit: number }): Promise<LegacyForm> {
  const contentType = c.req.header("content-type") ?? "";
  const source = requestStream(c);
  if (!MULTIPART.test(contentType) || !source) {
    source?.resume();
    throw new ServerError(
      ServerErrorCode.BAD_REQUEST,
      `Expected a multipart/form-data body (the PyPI legacy upload API, as twine sends it); received Content-Type ${preview(contentType)}`,
    );
  }
  return new Promise<LegacyForm>((resolve, reject) => {
    const form = Busboy({
      headers: { "content-type": contentType },
      limits: { fileSize: options.limit + 1, files: 4, fields: 200, parts: 250, fieldSize: 1024 * 1024 },
    });
    const fields = new Map<string, string>();
    let content: LegacyForm["content"] = null;
    let pending: Promise<unknown> = Promise.resolve();
    let failure: unknown = null;
    form.on("field", (name, value) => {
      if (!fields.has(name)) fields.set(name, value);
    });
    form.on("file", (name, stream, filename) => {
      const isWheel =
        filename.toLowerCase().endsWith(".whl") &&
        (fields.get("filetype") ?? "bdist_wheel") === "bdist_wheel";
      if (name !== "content" || content || !isWheel) {
        if (name === "content" && !content) content = { filename, spooled: null };
        stream.resume();
        return;
      }
      const part = { filename, spooled: null as Spooled | null };
      content = part;
      pending = spool(stream[Symbol.asyncIterator](), options.path, {
        limit: options.limit,
        drain: true,
      }).then(
        (s) => {
          part.spooled = s;
        },
        (e: unknown) => {
          failure = e;
        },
      );
    });
    const fail = (e: unknown) => {
      source.unpipe(form);
      source.resume();
      reject(
        new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected a well-formed multipart/form-data body; ${String(e).slice(0, 200)}`,
          {
            cause: e,
          },
        ),
      );
    };
    form.on("error", fail);
    source.on("error", reject);
    form.on("finish", () => {
      void pending.then(() => (failure ? reject(failure) : resolve({ fields, content })));
    });
    source.pipe(form);
  });
}

function notFound(what: string): ServerError {
  return new ServerError(ServerErrorCode.NOT_FOUND, `${what} was not found`);
}

/**
 * Private wheels and the per-workspace package index, as a Hono app to mount at `/`:
 *
 * - `PUT /upload/v1/wheels/{filename}[?overwrite=true]` (writer, raw wheel bytes as the body)
 * - `GET /api/v1/wheels[?project=]`, `GET /api/v1/wheels/{filename}`,
 *   `GET /api/v1/wheels/{filename}/download[?sha256=]` (reader)
 * - `POST /api/v1/wheels/{filename}/yank` `{reason?}`, `POST .../unyank` (writer)
 * - `POST /api/v1/wheels/resolve` `{reference, ttlSeconds?}` (reader): a signed URL
 * - `PUT/GET/DELETE /api/v1/secrets[/{name}]` (admin; values are write-only)
 * - `GET /pypi/{workspace}/simple/[{project}/]` PEP 503/691 index, `GET /pypi/{workspace}/files/{sha256}/{filename}[.metadata]`
 *   (token via Basic auth, any user name), `GET /pypi/{workspace}/signed/{sha256}/{filename}?expires=&sig=` (no token)
 */
export function wheelRoutes(deps: WheelRoutesDeps): Hono {
  const app = new Hono();
  const limits = { ...defaultZipLimits, ...deps.limits };
  const now = deps.now ?? (() => new Date().toISOString());
  const log = deps.logger;
  const validator = deps.validator ?? new WheelValidator();

  async function auth(c: Context, role: Role, workspace?: string): Promise<AuthenticatedToken> {
    // pip sends the token by Basic auth: accepted on the index only, never on the JSON API
    const found = await identify(c, { basic: c.req.path.startsWith("/pypi/") });
    // A token of one workspace sees nothing of another: the same answer as for a missing workspace.
    if (workspace !== undefined && workspace !== found.workspaceName)
      throw notFound(`Workspace ${preview(workspace)}`);
    return requireRole(found, role);
  }

  function checkedFilename(filename: string): string {
    parseWheelFilename(filename);
    return filename;
  }

  async function mustGet(workspaceId: string, filename: string): Promise<WheelRecord> {
    const w = await deps.catalog.get(workspaceId, filename);
    if (!w) {
      throw new WheelError(
        WheelErrorCodes.notFound,
        `Expected an uploaded wheel named "${received(filename)}", but there is none in this workspace`,
        {
          details: { filename },
        },
      );
    }
    return w;
  }

  /** A stored blob opened for streaming; a catalog row whose blob is gone is a server fault. */
  async function blobOrThrow(sha256: string): Promise<BlobReader> {
    const blob = await deps.blobs.read(`sha256:${sha256}`);
    if (!blob) throw new ServerError(ServerErrorCode.INTERNAL, "blob missing");
    return blob;
  }

  /** The wheel's bytes, streamed from the blob store, with Range support. */
  function wheelResponse(
    c: Context,
    blob: BlobReader,
    filename: string,
    sha256: string,
    attachment: boolean,
  ): Response {
    return blobResponse(c, blob, {
      "content-type": "application/octet-stream",
      etag: `"${sha256}"`,
      "cache-control": "private, max-age=31536000, immutable",
      ...(attachment ? { "content-disposition": `attachment; filename="${filename}"` } : {}),
    });
  }

  // ---- upload -------------------------------------------------------------------------------
  /** A temp path next to the blobs (so committing is a rename), or in the OS temp dir. */
  async function uploadPath(): Promise<string> {
    if (deps.blobs instanceof FsBlobStore) return deps.blobs.tempPath();
    return join(tmpdir(), `mlenv-wheel-${randomBytes(12).toString("hex")}`);
  }
  async function commitBlob(path: string, sha256: string): Promise<void> {
    const digest: BlobDigest = `sha256:${sha256}`;
    if (deps.blobs instanceof FsBlobStore) await deps.blobs.putFile(path, digest);
    else if (!(await deps.blobs.has(digest))) await deps.blobs.put(new Uint8Array(await readFile(path)));
  }

  // a bad file name answers E_WHEEL_FILENAME_INVALID (before the generic checks of the path)
  const byFilename = {
    checkParams: (p: Record<string, string>) => void parseWheelFilename(p.filename ?? ""),
  };

  /** What an upload answers: its status code and JSON body. */
  interface Stored {
    code: 200 | 201;
    body: {
      status: "created" | "unchanged" | "replaced";
      wheel: WheelInfo;
      previous: { revision: number; sha256: string } | null;
    };
  }

  /**
   * Validate a spooled upload and store it: the one path of every upload API (`PUT`, the legacy
   * form). `check` runs on the validated wheel before anything is stored (the legacy API's
   * declared digests and metadata).
   */
  async function storeWheel(options: {
    a: AuthenticatedToken;
    filename: string;
    spooled: Spooled;
    overwrite: boolean;
    check?: (v: ValidatedWheel) => void;
  }): Promise<Stored> {
    const { a, filename, spooled, overwrite } = options;
    // In a worker thread: the event loop keeps serving while the archive is inflated and hashed.
    const v: ValidatedWheel = await validator.validateFile(filename, spooled.path, limits, {
      sha256: spooled.sha256,
    });
    options.check?.(v);
    const existing = await deps.catalog.get(a.workspaceId, filename);
    if (existing && existing.sha256 !== v.sha256 && !overwrite) {
      throw new WheelError(
        WheelErrorCodes.exists,
        `Expected a new file name or the same bytes, but "${filename}" already holds different bytes (sha256 ${existing.sha256}); upload with --overwrite to replace it (the old bytes are kept)`,
        { details: { filename, existingSha256: existing.sha256, sha256: v.sha256 } },
      );
    }
    const out = await deps.catalog.put({
      workspaceId: a.workspaceId,
      filename,
      project: v.file.project,
      name: v.name,
      version: v.version,
      sha256: v.sha256,
      size: v.size,
      metadataSha256: v.metadataSha256,
      requiresPython: v.requiresPython,
      summary: v.summary,
      uploadedAt: now(),
      uploadedBy: a.name,
      overwrite,
    });
    // The row won; its blobs are committed now (also for "unchanged", which repairs a blob lost
    // to a crash between the row and the rename). Readers may see a 500 for that instant.
    await commitBlob(spooled.path, v.sha256);
    await deps.blobs.put(v.metadata);
    if (out.status !== "unchanged") {
      logChange(log, a, out.status === "created" ? "wheel uploaded" : "wheel replaced", {
        filename,
        sha256: v.sha256,
        revision: out.wheel.revision,
      });
    }
    return {
      code: out.status === "created" ? 201 : 200,
      body: {
        status: out.status,
        wheel: info(a.workspaceName, out.wheel),
        previous: out.previous ? { revision: out.previous.revision, sha256: out.previous.sha256 } : null,
      },
    };
  }

  mount(
    app,
    W.uploadWheel,
    async ({ c, auth: a, params, query }) => {
      const filename = checkedFilename(params.filename);
      const overwrite = ["1", "true"].includes(query.overwrite ?? "");
      const declared = c.req.header("content-length");
      if (declared !== undefined && Number(declared) > limits.maxBytes)
        throw tooLarge(limits.maxBytes, `Content-Length ${preview(declared)}`);
      // The body goes to a temp file (hashed and counted on the way, never held in memory), is
      // validated from there, and becomes a blob only after the catalog row is written: a refused
      // upload, or the loser of two racing uploads of one file name, leaves nothing behind.
      const spooled = await spool(requestBody(c), await uploadPath(), { limit: limits.maxBytes });
      try {
        const stored = await storeWheel({ a, filename, spooled, overwrite });
        return c.json(stored.body, stored.code);
      } finally {
        await rm(spooled.path, { force: true });
      }
    },
    byFilename,
  );

  // ---- the legacy upload API (twine, uv publish, poetry, flit) --------------------------------
  /** The legacy form's declared digest `field` when it differs from the bytes' `actual` one. */
  function checkDigest(fields: Map<string, string>, field: string, actual: string): void {
    const declared = fields.get(field)?.trim().toLowerCase();
    if (declared === undefined || declared === "" || declared === actual) return;
    throw new WheelError(
      WheelErrorCodes.digestMismatch,
      `Expected the uploaded bytes to match ${field}; received ${received(declared)}, but the bytes' digest is ${actual}: the file changed or was cut in transit, upload it again`,
      { details: { field, declared: received(declared), actual } },
    );
  }

  async function legacyUpload(c: Context, a: AuthenticatedToken): Promise<Response> {
    const declared = c.req.header("content-length");
    if (declared !== undefined && Number(declared) > limits.maxBytes + FORM_OVERHEAD)
      throw tooLarge(limits.maxBytes, `Content-Length ${preview(declared)}`);
    const path = await uploadPath();
    try {
      const form = await readLegacyForm(c, { path, limit: limits.maxBytes });
      const spooled = form.content?.spooled ?? null;
      const { fields } = form;
      const action = fields.get(":action");
      if (action !== "file_upload") {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected the form field :action=file_upload (the PyPI legacy upload API); received ${preview(action ?? "none")}`,
        );
      }
      const protocol = fields.get("protocol_version") ?? "1";
      if (protocol !== "1")
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected protocol_version 1; received ${preview(protocol)}`,
        );
      if (!form.content)
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          "Expected the distribution file as the form's `content` part (e.g. twine upload dist/*.whl); received none",
        );
      const filename = form.content.filename;
      if (!spooled) {
        const filetype = fields.get("filetype") ?? "unknown";
        throw new WheelError(
          WheelErrorCodes.notWheel,
          `Expected a wheel (.whl, filetype bdist_wheel): this index keeps wheels only; received ${received(filename)} (filetype ${received(filetype)}). Upload the wheel alone, e.g. twine upload dist/*.whl`,
          { details: { filename: received(filename), filetype: received(filetype) } },
        );
      }
      checkedFilename(filename);
      checkDigest(fields, "sha256_digest", spooled.sha256);
      checkDigest(fields, "md5_digest", spooled.md5);
      const stored = await storeWheel({
        a,
        filename,
        spooled,
        overwrite: false,
        check: (v) => {
          const name = fields.get("name");
          const version = fields.get("version");
          if (
            (name !== undefined && canonicalizeName(name) !== v.file.project) ||
            (version !== undefined && version !== v.version)
          ) {
            throw new WheelError(
              WheelErrorCodes.metadataMismatch,
              `Expected the form's name and version to be the wheel's (${v.name} ${v.version}); received ${received(name ?? "")} ${received(version ?? "")}`,
              { details: { name: received(name ?? ""), version: received(version ?? "") } },
            );
          }
        },
      });
      return c.json(stored.body, stored.code);
    } finally {
      await rm(path, { force: true });
    }
  }

  const legacy = {
    // twine sends the token by Basic auth (user __token__), like pip on the index
    authenticate: (c: Context) => auth(c, "writer", c.req.param("workspace")),
    before: [messageAsReason],
  };
  mount(app, W.legacyUpload, ({ c, auth: a }) => legacyUpload(c, a), legacy);
  mount(app, W.legacyUploadNoSlash, ({ c, auth: a }) => legacyUpload(c, a), legacy);

  // ---- JSON API -----------------------------------------------------------------------------
  mount(app, W.listWheels, async ({ c, auth: a, query: { project } }) => {
    const items = await deps.catalog.list(a.workspaceId, project ? canonicalizeName(project) : undefined);
    return c.json({ items: items.map((w) => info(a.workspaceName, w)) });
  });

  function ttlFrom(value: unknown): number {
    const ttl = value === undefined ? (deps.signedUrlTtlSeconds ?? 3600) : value;
    if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 24 * 3600) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected ttlSeconds to be a whole number from 1 to 604800; received ${preview(ttl)}`,
      );
    }
    return ttl;
  }

  function resolveOptions(c: Context, a: AuthenticatedToken, ttl: number): ResolveOptions {
    return {
      catalog: deps.catalog,
      signer: deps.signer,
      workspace: { id: a.workspaceId, name: a.workspaceName },
      baseUrl: new URL(c.req.url).origin,
      ttlSeconds: ttl,
    };
  }

  mount(app, W.resolveWheel, async ({ c, auth: a, body }) =>
    c.json(await resolveWheelReference(body.reference, resolveOptions(c, a, ttlFrom(body.ttlSeconds)))),
  );

  // Build/run time: a pip block's lines with every wheel reference swapped for a signed URL.
  mount(app, W.renderWheels, async ({ c, auth: a, body }) => {
    const out = await resolveWheelReferences(
      body.requirements,
      resolveOptions(c, a, ttlFrom(body.ttlSeconds)),
    );
    return c.json({ requirements: out });
  });

  mount(
    app,
    W.getWheel,
    async ({ c, auth: a, params }) => {
      const w = await mustGet(a.workspaceId, checkedFilename(params.filename));
      const revisions = await deps.catalog.revisions(a.workspaceId, w.filename);
      return c.json({ ...info(a.workspaceName, w), revisions });
    },
    byFilename,
  );

  mount(
    app,
    W.downloadWheel,
    async ({ c, auth: a, params, query }) => {
      const w = await mustGet(a.workspaceId, checkedFilename(params.filename));
      const wanted = query.sha256;
      let sha256 = w.sha256;
      if (wanted !== undefined) {
        if (!SHA256.test(wanted))
          throw new ServerError(
            ServerErrorCode.BAD_REQUEST,
            `Expected sha256 to be 64 lower-case hex digits; received ${preview(wanted)}`,
          );
        const revs = await deps.catalog.revisions(a.workspaceId, w.filename);
        if (!revs.some((r) => r.sha256 === wanted))
          throw notFound(`Revision sha256=${wanted} of ${preview(w.filename)}`);
        sha256 = wanted;
      }
      return wheelResponse(c, await blobOrThrow(sha256), w.filename, sha256, true);
    },
    byFilename,
  );

  async function setYanked(a: AuthenticatedToken, filename: string, reason: string | null) {
    await mustGet(a.workspaceId, checkedFilename(filename));
    const w = await deps.catalog.setYanked({
      workspaceId: a.workspaceId,
      filename,
      yanked: reason !== null,
      reason,
    });
    logChange(log, a, reason !== null ? "wheel yanked" : "wheel unyanked", { filename });
    return info(a.workspaceName, w!);
  }
  mount(
    app,
    W.yankWheel,
    async ({ c, auth: a, params, body }) => c.json(await setYanked(a, params.filename, body.reason ?? "")),
    byFilename,
  );
  mount(
    app,
    W.unyankWheel,
    async ({ c, auth: a, params }) => c.json(await setYanked(a, params.filename, null)),
    byFilename,
  );

  // ---- workspace secrets (upstream index credentials) -----------------------------------------
  function secretName(name: string): string {
    if (!SECRET_NAME.test(name)) {
      throw new ServerError(
        ServerErrorCode.NAME_INVALID,
        `Expected a secret name like "CORP_PYPI_TOKEN" ([A-Za-z][A-Za-z0-9_]{0,63}); received ${preview(name)}`,
      );
    }
    return name;
  }
  mount(app, W.listSecrets, async ({ c, auth: a }) => {
    const items = await deps.catalog.listSecrets(a.workspaceId);
    return c.json({
      items: await Promise.all(
        items.map(async (s) => ({
          ...s,
          allowedHosts: await deps.catalog.getSecretHosts(a.workspaceId, s.name),
        })),
      ),
    });
  });
  mount(app, W.putSecret, async ({ c, auth: a, params, body }) => {
    const name = secretName(params.name);
    const hosts = body.allowedHosts ?? [];
    const allowedHosts = [...new Set((hosts as string[]).map(normaliseAllowedHost))];
    const out = await deps.catalog.putSecret({
      workspaceId: a.workspaceId,
      name,
      value: body.value,
      now: now(),
    });
    await deps.catalog.setSecretHosts(a.workspaceId, name, allowedHosts);
    logChange(log, a, "secret set", { name, allowedHosts });
    return c.json({ ...out, allowedHosts });
  });
  mount(app, W.deleteSecret, async ({ c, auth: a, params }) => {
    const name = secretName(params.name);
    if (!(await deps.catalog.deleteSecret(a.workspaceId, name))) throw notFound(`Secret ${preview(name)}`);
    return c.body(null, 204);
  });

  // ---- the simple index -----------------------------------------------------------------------
  /** PEP 691 negotiation; null means "answer 406". */
  function negotiated(c: Context) {
    const format = negotiateSimpleFormat(c.req.header("accept"));
    c.header("Vary", "Accept");
    c.header("Cache-Control", "private, no-cache");
    return format;
  }
  function notAcceptable(c: Context): Response {
    return c.json(
      {
        code: "E_NOT_ACCEPTABLE",
        message: `Expected an Accept header naming ${PYPI_JSON}, ${PYPI_HTML} or text/html; received ${preview(c.req.header("accept"))}`,
        details: { available: [PYPI_JSON, PYPI_HTML, "text/html"] },
      },
      406,
    );
  }

  // pip sends the token by Basic auth, and a token of one workspace sees nothing of another
  const index = { authenticate: (c: Context) => auth(c, "reader", c.req.param("workspace")) };
  mount(app, W.indexRootRedirect, ({ c, params }) => c.redirect(`/pypi/${params.workspace}/simple/`, 301));
  mount(
    app,
    W.indexRoot,
    async ({ c, auth: a }) => {
      const projects = await deps.catalog.projects(a.workspaceId);
      const format = negotiated(c);
      if (!format) return notAcceptable(c);
      c.header("Content-Type", format);
      return c.body(format === PYPI_JSON ? renderRootJson(projects) : renderRootHtml(projects));
    },
    index,
  );
  mount(app, W.indexProjectRedirect, ({ c, params }) =>
    c.redirect(`/pypi/${params.workspace}/simple/${encodeURIComponent(params.project)}/`, 301),
  );
  mount(
    app,
    W.indexProject,
    async ({ c, auth: a, params }) => {
      const raw = params.project;
      const project = canonicalizeName(raw);
      if (project !== raw)
        return c.redirect(`/pypi/${a.workspaceName}/simple/${encodeURIComponent(project)}/`, 301);
      const wheels = await deps.catalog.list(a.workspaceId, project);
      if (wheels.length === 0) throw notFound(`Project ${preview(raw)}`);
      const files: IndexFile[] = wheels.map((w) => ({
        filename: w.filename,
        url: `../../files/${w.sha256}/${w.filename}`,
        sha256: w.sha256,
        size: w.size,
        requiresPython: w.requiresPython,
        metadataSha256: w.metadataSha256,
        yanked: w.yanked ? (w.yankedReason ?? "") : false,
        uploadTime: w.uploadedAt,
        version: w.version,
      }));
      const format = negotiated(c);
      if (!format) return notAcceptable(c);
      c.header("Content-Type", format);
      return c.body(
        format === PYPI_JSON ? renderProjectJson(project, files) : renderProjectHtml(project, files),
      );
    },
    index,
  );

  /** Resolve `<filename>` or `<filename>.metadata` of a stored revision, or throw 404. */
  async function fileFor(workspaceId: string, sha256: string, requested: string) {
    const isMetadata = requested.endsWith(".metadata");
    const filename = isMetadata ? requested.slice(0, -".metadata".length) : requested;
    if (!SHA256.test(sha256)) throw notFound("File");
    parseWheelFilename(filename);
    const revision = (await deps.catalog.revisions(workspaceId, filename)).find((r) => r.sha256 === sha256);
    if (!revision) throw notFound(`File ${preview(requested)}`);
    return { filename, isMetadata, revision };
  }

  mount(
    app,
    W.indexFile,
    async ({ c, auth: a, params }) => {
      const f = await fileFor(a.workspaceId, params.sha256, params.filename);
      if (f.isMetadata) {
        return blobResponse(c, await blobOrThrow(f.revision.metadataSha256), {
          "content-type": "text/plain; charset=utf-8",
          etag: `"${f.revision.metadataSha256}"`,
        });
      }
      return wheelResponse(c, await blobOrThrow(f.revision.sha256), f.filename, f.revision.sha256, false);
    },
    index,
  );

  mount(app, W.signedWheel, async ({ c, params: { workspace, sha256, filename }, query }) => {
    // The signature is checked before anything is looked up, so unsigned probes learn nothing.
    deps.signer.verify({ workspace, sha256, filename }, { expires: query.expires, sig: query.sig });
    const ws = await deps.store.getWorkspace(workspace);
    if (!ws) throw notFound("File");
    const f = await fileFor(ws.id, sha256, filename);
    if (f.isMetadata) throw notFound("File");
    return wheelResponse(c, await blobOrThrow(sha256), f.filename, sha256, false);
  });

  return app;
}
