import {
  type CoreConfig,
  canonicalJson,
  type DefinitionDiff,
  definitionHash,
  diffDefinitions,
  type EnvironmentDefinition,
  isCoreError,
  type JsonValue,
  type Lock,
  parseDefinition,
  parseLock,
  toReferenceJson,
  validateDefinition,
  validateLock,
} from "@mlenv/core";
import { generateToken, hashToken } from "../auth";
import type { BlobStore } from "../blobs/blobStore";
import { putPending } from "../blobs/sweep";
import { environmentImageKey } from "../builds/imageKey";
import { catalogPrivateInputs, type PrivateInputsSource } from "../builds/privateInputs";
import { redactRegistryPassword, refusePlainRegistryPassword } from "../builds/registryAuth";
import { preview, ServerError, ServerErrorCode } from "../errors";
import type {
  AuthenticatedToken,
  EnvironmentRecord,
  LabelRecord,
  Role,
  Store,
  TokenRecord,
  VersionRecord,
  VersionSummaryRecord,
  WorkspaceRecord,
} from "../store/types";
import { curatedDefinitions, isReservedName } from "./curated";
import { type EnvironmentSummaryView, type EnvironmentVersionView, versionView } from "./view";

export type { EnvironmentSummaryView, EnvironmentVersionView } from "./view";

/** How long a looked-up token is trusted without asking the database again. */
const TOKEN_TTL_MS = 5_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const WORKSPACE = /^[a-z0-9][a-z0-9-]{0,62}$/;

export interface ListPageInput {
  workspaceId: string;
  prefix?: string | undefined;
  /** `key` or `key=value` of the latest version's tags. */
  tag?: string | undefined;
  limit: number;
  /** A previous page's nextCursor. */
  cursor?: string | undefined;
  archived: "exclude" | "include" | "only";
}

export interface RegisterOutcome {
  created: boolean;
  environment: EnvironmentVersionView;
}

function checkName(name: string, what = "environment name"): void {
  if (!NAME.test(name)) {
    throw new ServerError(
      ServerErrorCode.NAME_INVALID,
      `Expected an ${what} of 1-255 characters [A-Za-z0-9._-] starting with a letter or digit, e.g. "my-env"; received ${preview(name)}`,
      { details: { name: preview(name) } },
    );
  }
}

function notFound(message: string, details: Record<string, unknown>): ServerError {
  return new ServerError(ServerErrorCode.NOT_FOUND, message, { details });
}

/** `f()` over a caller's definition: core refusing it is bad input, E_DEFINITION_INVALID with core's issues. */
function coreChecked<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isCoreError(e)) {
      throw new ServerError(ServerErrorCode.DEFINITION_INVALID, e.message, {
        details: { issues: e.issues },
        cause: e,
      });
    }
    throw e;
  }
}

/** The registry's rules on top of a Store and a BlobStore. All methods are workspace-scoped. */
export class Registry {
  readonly store: Store;
  readonly blobs: BlobStore;
  readonly #now: () => string;
  /** Core configuration definitions are parsed with (default base images); core's defaults otherwise. */
  readonly #config: CoreConfig | undefined;
  readonly #tokens = new Map<string, { auth: AuthenticatedToken; hash: string; until: number }>();
  #generation = 0;
  #cacheTokens = true;

  readonly #privateInputs: PrivateInputsSource;

  constructor(deps: {
    store: Store;
    blobs: BlobStore;
    now?: () => string;
    config?: CoreConfig;
    /** Finds a definition's workspace wheels and secrets (runs' venv and image keys); none by default. */
    privateInputs?: PrivateInputsSource;
  }) {
    this.#config = deps.config;
    this.#privateInputs = deps.privateInputs ?? catalogPrivateInputs({ get: async () => null });
    this.store = deps.store;
    this.blobs = deps.blobs;
    this.#now = deps.now ?? (() => new Date().toISOString());
  }

  /** The core configuration definitions are parsed and keyed with (the server's base images). */
  get config(): CoreConfig | undefined {
    return this.#config;
  }

  /**
   * The key a run's venv (or image) uses in a workspace: the version's key, or, when the definition
   * installs workspace wheels or reads secrets, a key over it, the workspace and the wheels'
   * current sha256 (as the image builder keys images).
   */
  async workspaceImageKey(
    definition: EnvironmentDefinition,
    lock: Lock | null,
    workspaceId: string,
  ): Promise<string> {
    return environmentImageKey({
      definition,
      lock,
      config: this.#config,
      privateInputs: await this.#privateInputs(definition, lock, workspaceId),
    });
  }

  // ---- workspaces and tokens -------------------------------------------------------------

  /**
   * First start: when no workspace exists, create `default` with an admin token. Returns the
   * plaintext token when it was created now (null otherwise).
   */
  async bootstrap(token: string | undefined): Promise<{ token: string; generated: boolean } | null> {
    if ((await this.store.listWorkspaces()).length > 0) return null;
    const plain = token ?? generateToken();
    try {
      // One transaction: the workspace never exists without its admin token.
      await this.store.createWorkspace("default", this.#now(), {
        name: "bootstrap-admin",
        tokenHash: hashToken(plain),
      });
    } catch (e) {
      // Another server process on the same database bootstrapped first.
      if (await this.store.getWorkspace("default")) return null;
      throw e;
    }
    return { token: plain, generated: token === undefined };
  }

  /** Seed (or update) the curated environments in every workspace. */
  async seedCurated(): Promise<void> {
    for (const ws of await this.store.listWorkspaces()) await this.#seed(ws.id);
  }

  async #seed(workspaceId: string): Promise<void> {
    for (const def of curatedDefinitions(this.#config)) {
      await this.#register(workspaceId, def, { curated: true, createdBy: "mlenv" });
    }
  }

  /**
   * The live token, cached for TOKEN_TTL_MS. Revocations clear the cache at once in this process
   * and, through `Store.watchRevocations` (PostgreSQL NOTIFY), in every other one.
   */
  async authenticate(token: string): Promise<AuthenticatedToken | null> {
    const now = Date.now();
    // Keyed by the presented token (no hashing on a hit); the entry remembers its hash for eviction.
    const hit = this.#tokens.get(token);
    if (hit && hit.until > now) return hit.auth;
    const hash = hashToken(token);
    const generation = this.#generation;
    const auth = await this.store.findToken(hash);
    // Cache only if no revocation arrived while we looked (and caching is still trusted).
    if (auth && this.#cacheTokens && generation === this.#generation) {
      if (this.#tokens.size >= 10_000) this.#tokens.clear();
      this.#tokens.set(token, { auth, hash, until: now + TOKEN_TTL_MS });
    }
    return auth;
  }

  /** The revocation feed is back (after a database restart): start caching afresh. */
  resumeTokenCache(): void {
    this.#generation++;
    this.#tokens.clear();
    this.#cacheTokens = true;
  }

  /** Forget a revoked token (its hash), or every cached token (null: the revocation feed was lost). */
  forgetToken(tokenHash: string | null): void {
    this.#generation++;
    if (tokenHash === null) {
      this.#tokens.clear();
      this.#cacheTokens = false;
    } else {
      for (const [key, entry] of this.#tokens) if (entry.hash === tokenHash) this.#tokens.delete(key);
    }
  }

  /** Follow the store's revocation feed, if it has one; returns the function that stops it. */
  async watchRevocations(): Promise<() => Promise<void>> {
    if (!this.store.watchRevocations) return async () => {};
    return this.store.watchRevocations(
      (hash) => this.forgetToken(hash),
      () => this.resumeTokenCache(),
    );
  }

  async createWorkspace(name: string): Promise<{ workspace: WorkspaceRecord; adminToken: string }> {
    if (!WORKSPACE.test(name)) {
      throw new ServerError(
        ServerErrorCode.NAME_INVALID,
        `Expected a workspace name of 1-63 characters [a-z0-9-] starting with a letter or digit, e.g. "team-a"; received ${preview(name)}`,
        { details: { name: preview(name) } },
      );
    }
    if (await this.store.getWorkspace(name)) {
      throw new ServerError(ServerErrorCode.CONFLICT, `Workspace ${JSON.stringify(name)} already exists`, {
        details: { name },
      });
    }
    const adminToken = generateToken();
    let workspace: WorkspaceRecord;
    try {
      workspace = await this.store.createWorkspace(name, this.#now(), {
        name: "admin",
        tokenHash: hashToken(adminToken),
      });
    } catch (e) {
      // a concurrent request created it between the check and the insert
      const code = (e as { code?: unknown }).code;
      if (
        code === "23505" ||
        code === "SQLITE_CONSTRAINT_UNIQUE" ||
        code === "SQLITE_CONSTRAINT_PRIMARYKEY"
      ) {
        throw new ServerError(ServerErrorCode.CONFLICT, `Workspace ${JSON.stringify(name)} already exists`, {
          details: { name },
          cause: e,
        });
      }
      throw e;
    }
    await this.#seed(workspace.id);
    return { workspace, adminToken };
  }

  async createToken(
    workspaceId: string,
    name: string,
    role: Role,
  ): Promise<{ record: TokenRecord; token: string }> {
    const token = generateToken();
    const record = await this.store.createToken({
      workspaceId,
      name,
      role,
      tokenHash: hashToken(token),
      now: this.#now(),
    });
    return { record, token };
  }

  async revokeToken(workspaceId: string, id: string): Promise<void> {
    const live = await this.store.listTokens(workspaceId);
    const target = live.find((t) => t.id === id);
    if (target?.role === "admin" && live.filter((t) => t.role === "admin").length === 1) {
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `Token ${preview(target.name)} is this workspace's only admin token; expected another admin token to exist first (create one with mlenv token create --role admin), so the workspace is not left without an admin`,
        { details: { id } },
      );
    }
    const revoked = await this.store.revokeToken(workspaceId, id, this.#now());
    // The id is not the hash: forget every cached token of this process (revocations are rare).
    this.#generation++;
    this.#tokens.clear();
    if (!revoked) {
      throw notFound(`No live token with id ${preview(id)} in this workspace`, { id: preview(id) });
    }
  }

  // ---- environments ----------------------------------------------------------------------

  /**
   * Validate a definition with core; bad input becomes E_DEFINITION_INVALID. Parsed with core's
   * defaults, not the server's configuration: a definition that names no base image keeps core's
   * default (which stands for the server's configured image when it is built, see core's
   * resolveBaseImage), so its definitionHash is the one the client computed and locked against.
   */
  parse(json: unknown): EnvironmentDefinition {
    return coreChecked(() => parseDefinition(json));
  }

  /**
   * Refuse a definition that can never build: core's validation errors (the same rules as
   * `mlenv env validate`, the CLI and the UI), e.g. both a base image and a base Dockerfile, a
   * conda document without python, a hostile value. Warnings (unpinned packages) are accepted.
   */
  validate(def: EnvironmentDefinition): void {
    const errors = validateDefinition(def, {
      ...(this.#config ? { config: this.#config } : {}),
      allowReservedName: true,
    }).filter((i) => i.severity === "error");
    if (errors.length === 0) return;
    throw new ServerError(
      ServerErrorCode.DEFINITION_INVALID,
      `Invalid environment definition ${preview(def.name)}: ${errors
        .map((e) => `${e.path || "(root)"}: ${e.message}`)
        .join("; ")
        .slice(0, 800)}`,
      { details: { issues: errors } },
    );
  }

  /**
   * Validate a lock (an mlenv.lock document as JSON, or its YAML text) with core and check it was
   * made from `def`. Bad input becomes E_LOCK_INVALID, another definition's lock E_LOCK_MISMATCH.
   */
  parseLockFor(def: EnvironmentDefinition, input: unknown): Lock {
    let lock: Lock;
    try {
      lock = typeof input === "string" ? parseLock(input, "lock") : validateLock(input, "lock");
    } catch (e) {
      if (isCoreError(e)) {
        throw new ServerError(ServerErrorCode.LOCK_INVALID, e.message, { cause: e, details: {} });
      }
      throw e;
    }
    const { hash } = this.#canonical(def);
    if (lock.definitionHash !== hash) {
      throw new ServerError(
        ServerErrorCode.LOCK_MISMATCH,
        `The lock was made from another definition: expected definitionHash ${hash} (this definition's; relock with "mlenv env lock"), received ${preview(lock.definitionHash)}`,
        { details: { expected: hash, received: preview(lock.definitionHash) } },
      );
    }
    return lock;
  }

  /** Register a user definition (reserved names refused), optionally with its lock. */
  async register(
    workspaceId: string,
    json: unknown,
    createdBy: string,
    lockInput?: unknown,
    options: { onlyIfNew?: boolean } = {},
  ): Promise<RegisterOutcome> {
    const def = this.parse(json);
    checkName(def.name);
    if (isReservedName(def.name)) {
      throw new ServerError(
        ServerErrorCode.NAME_RESERVED,
        `The prefix "mlenv-" is reserved for curated environments; expected another name, e.g. "my-${def.name.slice(6) || "env"}" (clone a curated environment to change it); received ${preview(def.name)}`,
        { details: { name: def.name } },
      );
    }
    this.validate(def);
    const lock = lockInput === undefined || lockInput === null ? null : this.parseLockFor(def, lockInput);
    return this.#register(workspaceId, def, {
      curated: false,
      createdBy,
      lock,
      onlyIfNew: options.onlyIfNew ?? false,
    });
  }

  /** Canonical JSON and hash; core refusing them (e.g. a lone surrogate) is bad input. */
  #canonical(def: EnvironmentDefinition): { text: string; hash: string } {
    return coreChecked(() => ({
      text: canonicalJson(toReferenceJson({ ...def, version: null })),
      hash: definitionHash(def),
    }));
  }

  async #register(
    workspaceId: string,
    def: EnvironmentDefinition,
    opts: { curated: boolean; createdBy: string; lock?: Lock | null; onlyIfNew?: boolean },
  ): Promise<RegisterOutcome> {
    refusePlainRegistryPassword(def);
    const { text, hash } = this.#canonical(def);
    const lock = opts.lock ?? null;
    const key = environmentImageKey({ definition: def, lock, config: this.#config });
    // marked pending until the version row commits: a crash in between is swept at the next start
    const pending = await putPending(this.blobs, new TextEncoder().encode(text));
    const definitionBlob = pending.digest;
    const res = await this.store.register({
      workspaceId,
      name: def.name,
      definitionHash: hash,
      definitionJson: text,
      definitionBlob,
      description: def.description,
      tags: def.tags,
      curated: opts.curated,
      createdBy: opts.createdBy,
      now: this.#now(),
      lockJson: lock ? canonicalJson(lock as unknown as JsonValue) : null,
      imageKey: key,
      ...(opts.onlyIfNew ? { onlyIfNew: true } : {}),
    });
    await pending.commit();
    if (opts.onlyIfNew && !res.created)
      return { created: false, environment: this.#view(res.environment, res.version, [], true) };
    // A version is immutable once locked: another lock for it is refused (nothing changed).
    if (lock && !res.created && res.version.locked && res.version.imageKey !== key) {
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `Version ${res.version.version} of ${preview(def.name)} is already locked to other artifacts; expected the same lock, or a changed definition (e.g. pin the package that moved) to register a new version`,
        { details: { name: def.name, version: res.version.version, imageKey: res.version.imageKey } },
      );
    }
    const labels = res.created ? [] : await this.#labelsOf(workspaceId, def.name, res.version.version);
    return { created: res.created, environment: this.#view(res.environment, res.version, labels, true) };
  }

  async #env(workspaceId: string, name: string): Promise<EnvironmentRecord> {
    const env = await this.store.getEnvironment(workspaceId, name);
    if (!env)
      throw notFound(`No environment named ${preview(name)} in this workspace`, { name: preview(name) });
    return env;
  }

  async #labelsOf(workspaceId: string, name: string, version: number): Promise<string[]> {
    return (await this.store.listLabels(workspaceId, name))
      .filter((l) => l.version === version)
      .map((l) => l.label);
  }

  #view(
    env: EnvironmentRecord,
    v: VersionRecord | VersionSummaryRecord,
    labels: string[],
    withDefinition: boolean,
  ): EnvironmentVersionView {
    const out = versionView(env, v, labels);
    if (withDefinition && "definitionJson" in v) {
      const definition = redactRegistryPassword(JSON.parse(v.definitionJson) as Record<string, unknown>);
      definition.version = String(v.version);
      out.definition = definition;
    }
    return out;
  }

  /** Latest, a given version, or the version a label points at (one store query). */
  async get(
    workspaceId: string,
    name: string,
    which: { version?: number | undefined; label?: string | undefined } = {},
  ): Promise<EnvironmentVersionView> {
    const r = await this.store.resolve(workspaceId, name, which);
    if (!r)
      throw notFound(`No environment named ${preview(name)} in this workspace`, { name: preview(name) });
    if (!r.version) {
      if (which.label !== undefined) {
        throw notFound(`Environment ${preview(name)} has no label ${preview(which.label)}`, {
          name,
          label: preview(which.label),
        });
      }
      throw notFound(
        `Environment ${preview(name)} has no version ${which.version} (latest is ${r.environment.latestVersion})`,
        { name, version: which.version, latestVersion: r.environment.latestVersion },
      );
    }
    return this.#view(r.environment, r.version, r.labels, true);
  }

  /** The lock stored with a version; E_NOT_FOUND when the version is unlocked. */
  async getLock(workspaceId: string, name: string, version: number): Promise<Lock> {
    const r = await this.store.resolve(workspaceId, name, { version });
    if (!r)
      throw notFound(`No environment named ${preview(name)} in this workspace`, { name: preview(name) });
    if (!r.version) {
      throw notFound(
        `Environment ${preview(name)} has no version ${version} (latest is ${r.environment.latestVersion})`,
        { name, version, latestVersion: r.environment.latestVersion },
      );
    }
    if (r.version.lockJson === null) {
      throw notFound(
        `Version ${version} of ${preview(name)} is unlocked; expected a version registered with a lock (mlenv env register with an mlenv.lock beside the definition)`,
        { name, version, locked: false },
      );
    }
    return JSON.parse(r.version.lockJson) as Lock;
  }

  /** Core's structured diff between two versions of one environment. */
  async diff(
    workspaceId: string,
    name: string,
    from: number,
    to: number,
  ): Promise<{
    name: string;
    from: number;
    to: number;
    fromHash: string;
    toHash: string;
    changes: DefinitionDiff;
  }> {
    const [a, b] = await Promise.all([
      this.get(workspaceId, name, { version: from }),
      this.get(workspaceId, name, { version: to }),
    ]);
    return {
      name,
      from,
      to,
      fromHash: a.definitionHash,
      toHash: b.definitionHash,
      // Compare content, not the version numbers the views carry.
      changes: diffDefinitions(
        parseDefinition({ ...a.definition, version: null }),
        parseDefinition({ ...b.definition, version: null }),
      ),
    };
  }

  async history(
    workspaceId: string,
    name: string,
  ): Promise<{ name: string; archived: boolean; items: EnvironmentVersionView[] }> {
    const env = await this.#env(workspaceId, name);
    const [versions, labels] = await Promise.all([
      this.store.listVersions(workspaceId, name),
      this.store.listLabels(workspaceId, name),
    ]);
    return {
      name,
      archived: env.archived,
      items: versions.map((v) =>
        this.#view(
          env,
          v,
          labels.filter((l) => l.version === v.version).map((l) => l.label),
          false,
        ),
      ),
    };
  }

  /** A page of environments, parsed (see {@link listJson} for the answer the route sends). */
  async list(input: ListPageInput): Promise<{ items: EnvironmentSummaryView[]; nextCursor: string | null }> {
    return JSON.parse(await this.listJson(input)) as {
      items: EnvironmentSummaryView[];
      nextCursor: string | null;
    };
  }

  /**
   * A page of environments as the JSON text the list route answers: each item is the summary the
   * store keeps beside its environment, copied as it is (no row is decoded and re-encoded).
   */
  async listJson(input: ListPageInput): Promise<string> {
    let after: string | undefined;
    if (input.cursor !== undefined) {
      after = Buffer.from(input.cursor, "base64url").toString("utf8");
      if (!NAME.test(after)) {
        throw new ServerError(
          ServerErrorCode.BAD_REQUEST,
          `Expected a cursor from a previous nextCursor; received ${preview(input.cursor)}`,
          {
            details: { cursor: preview(input.cursor) },
          },
        );
      }
    }
    let tagKey: string | undefined;
    let tagValue: string | undefined;
    if (input.tag !== undefined) {
      const eq = input.tag.indexOf("=");
      tagKey = eq < 0 ? input.tag : input.tag.slice(0, eq);
      tagValue = eq < 0 ? undefined : input.tag.slice(eq + 1);
    }
    const rows = await this.store.listEnvironments({
      workspaceId: input.workspaceId,
      prefix: input.prefix,
      tagKey,
      tagValue,
      after,
      limit: input.limit + 1,
      archived: input.archived,
    });
    const page = rows.slice(0, input.limit);
    const last = page.at(-1);
    const nextCursor =
      rows.length > input.limit && last ? Buffer.from(last.name, "utf8").toString("base64url") : null;
    return `{"items":[${page.map((r) => r.summaryJson).join(",")}],"nextCursor":${JSON.stringify(nextCursor)}}`;
  }

  #writable(env: EnvironmentRecord): void {
    if (env.curated) {
      throw new ServerError(
        ServerErrorCode.READ_ONLY,
        `Curated environment ${JSON.stringify(env.name)} is read-only; clone it to change it, e.g. POST /api/v1/environments/${env.name}/clone {"newName":"my-env"}`,
        { details: { name: env.name } },
      );
    }
  }

  async setLabel(workspaceId: string, name: string, label: string, version: number): Promise<LabelRecord> {
    if (!LABEL.test(label)) {
      throw new ServerError(
        ServerErrorCode.BAD_REQUEST,
        `Expected a label of 1-63 characters [A-Za-z0-9._-] starting with a letter or digit, e.g. "production"; received ${preview(label)}`,
        { details: { label: preview(label) } },
      );
    }
    const env = await this.#env(workspaceId, name);
    this.#writable(env);
    if (!(await this.store.getVersion(workspaceId, name, version))) {
      throw notFound(
        `Environment ${preview(name)} has no version ${version} (latest is ${env.latestVersion})`,
        {
          name,
          version,
        },
      );
    }
    return this.store.setLabel({ workspaceId, name, label, version, now: this.#now() });
  }

  async deleteLabel(workspaceId: string, name: string, label: string): Promise<void> {
    const env = await this.#env(workspaceId, name);
    this.#writable(env);
    if (!(await this.store.deleteLabel(workspaceId, name, label))) {
      throw notFound(`Environment ${preview(name)} has no label ${preview(label)}`, {
        name,
        label: preview(label),
      });
    }
  }

  async listLabels(workspaceId: string, name: string): Promise<LabelRecord[]> {
    await this.#env(workspaceId, name);
    return this.store.listLabels(workspaceId, name);
  }

  async setArchived(workspaceId: string, name: string, archived: boolean): Promise<EnvironmentSummaryView> {
    const env = await this.#env(workspaceId, name);
    this.#writable(env);
    const after = (await this.store.setArchived(workspaceId, name, archived, this.#now()))!;
    const latest = (await this.store.getVersion(workspaceId, name, after.latestVersion))!;
    const labels = await this.#labelsOf(workspaceId, name, after.latestVersion);
    return { ...this.#view(after, latest, labels, false), versionCount: after.latestVersion };
  }

  /** Copy a version (latest by default) under a new name as its version 1. */
  async clone(
    workspaceId: string,
    name: string,
    newName: string,
    which: { version?: number | undefined; label?: string | undefined },
    createdBy: string,
  ): Promise<RegisterOutcome> {
    const source = await this.get(workspaceId, name, which);
    checkName(newName, "new environment name");
    const taken = () =>
      new ServerError(
        ServerErrorCode.CONFLICT,
        `Environment ${JSON.stringify(newName)} already exists; expected a new name`,
        { details: { name: newName } },
      );
    // Fails fast here; the register below re-checks in its transaction (a concurrent register).
    if (await this.store.getEnvironment(workspaceId, newName)) throw taken();
    const { curated: _c, ...tags } = source.tags;
    // The name is not part of definitionHash, so the source's lock still fits the copy.
    const lock = source.locked ? await this.getLock(workspaceId, name, source.version) : undefined;
    const out = await this.register(
      workspaceId,
      { ...source.definition, name: newName, version: null, tags },
      createdBy,
      lock,
      { onlyIfNew: true },
    );
    if (!out.created) throw taken();
    return out;
  }
}
