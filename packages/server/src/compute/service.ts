import { createHash } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { cp, mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import type { BlobStore } from "../blobs/blobStore";
import { preview, ServerError, ServerErrorCode } from "../errors";
import { outputFiles } from "../runs/outputFiles";
import { checkRelativePath } from "../runs/snapshot";
import type { WheelCatalog } from "../wheels/catalog";
import {
  type AttachSlurmInput,
  COMPUTE_NAME,
  type DatastoreArgument,
  PLAIN_PATH,
  type SlurmTargetSettings,
} from "./schemas";
import { checkRestUrl, SlurmRest, SlurmRestError } from "./slurmRest";
import type {
  ComputeStore,
  ComputeTargetRecord,
  DatastoreFile,
  DatastoreRecord,
  DatastoreVersionRecord,
} from "./store";

/** Targets every workspace has; they cannot be attached or detached. */
export const BUILT_IN_TARGETS = ["local", "docker"] as const;

const bad = (setting: string, message: string) =>
  new ServerError(ServerErrorCode.BAD_REQUEST, message, { details: { setting } });

/** The workspace secret that holds a target's token. */
export function targetSecretName(target: string): string {
  return `COMPUTE_${target.toUpperCase().replaceAll("-", "_")}_TOKEN`;
}

/** A directory path of plain characters, absolute, without `.`/`..` parts. */
export function checkPlainDir(setting: string, value: string, example: string): string {
  const parts = value.split("/").slice(1);
  if (!PLAIN_PATH.test(value) || parts.some((p) => p === "." || p === "..")) {
    throw bad(
      setting,
      `Expected ${setting} to be an absolute path of letters, digits, . _ / - without . or .. parts (e.g. "${example}"); received ${preview(value)}`,
    );
  }
  return value.length > 1 ? value.replace(/\/+$/, "") : value;
}

/** An input a run reads: the datastore, how, and exactly which data (recorded on the run). */
export interface ResolvedInput {
  /** The argument's position in the run's argument list. */
  index: number;
  datastore: string;
  kind: "directory" | "blob";
  mode: "mount" | "download";
  /** blob: the version read; directory: null (a directory is not versioned). */
  version: number | null;
  /** blob: the version's manifest digest. */
  digest: string | null;
  /** directory: the path read. */
  path: string | null;
}

/** Compute targets and datastores of workspaces (the logic behind `/api/v1/compute` and `/api/v1/datastores`). */
export class ComputeService {
  constructor(
    private readonly o: {
      store: ComputeStore;
      blobs: BlobStore;
      secrets?: WheelCatalog | undefined;
      /** Where blob datastore versions are unpacked for `mount` on the server's machine. */
      dataCacheDir: string;
      /** Container runtimes this server can build images for (`docker` with a Docker engine). */
      containers?: readonly "docker"[];
    },
  ) {}

  get store(): ComputeStore {
    return this.o.store;
  }

  // ---- compute targets -----------------------------------------------------------------------
  /** Validate a Slurm target (the cluster answers, the partition exists) and attach it. */
  async attach(
    workspaceId: string,
    createdBy: string,
    input: AttachSlurmInput,
  ): Promise<ComputeTargetRecord> {
    if ((BUILT_IN_TARGETS as readonly string[]).includes(input.name)) {
      throw bad("name", `Expected a new target name; "${input.name}" is built in (local, docker)`);
    }
    const settings: SlurmTargetSettings = {
      restUrl: checkRestUrl(input.restUrl),
      sharedDir: checkPlainDir("sharedDir", input.sharedDir, "/shared/mlenv"),
      partition: input.partition,
      qos: input.qos ?? null,
      account: input.account ?? null,
      user: input.user ?? null,
      python: input.python ?? null,
      containers: input.containers ?? null,
    };
    if (settings.containers && !(this.o.containers ?? []).includes(settings.containers)) {
      throw bad(
        "containers",
        `Expected containers to name a runtime this server builds images for (${(this.o.containers ?? []).join(", ") || "none: no Docker engine is configured"}); received ${preview(settings.containers)}`,
      );
    }
    const http = settings.restUrl.startsWith("http");
    if (http && (!input.user || !input.token)) {
      throw bad(
        input.user ? "token" : "user",
        `Expected user and token for ${settings.restUrl} (slurmrestd over HTTP authenticates with a JWT from \`scontrol token\`); received ${input.user ? "no token" : "no user"}`,
      );
    }
    if (!existsSync(settings.sharedDir) || !statSync(settings.sharedDir).isDirectory()) {
      throw bad(
        "sharedDir",
        `Expected sharedDir to be a directory this server and every node of the cluster see at the same path; ${preview(settings.sharedDir)} is not a directory here`,
      );
    }
    if (await this.o.store.getTarget(workspaceId, input.name)) {
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `A compute target named "${input.name}" is already attached; detach it first`,
      );
    }
    const rest = new SlurmRest({ restUrl: settings.restUrl, user: input.user, token: input.token });
    await checkCluster(rest, settings.partition, "partition");
    let secretName: string | null = null;
    if (input.token) {
      if (!this.o.secrets)
        throw bad("token", "This server keeps no workspace secrets, so it cannot store a token");
      secretName = targetSecretName(input.name);
      await this.o.secrets.putSecret({
        workspaceId,
        name: secretName,
        value: input.token,
        now: new Date().toISOString(),
      });
    }
    const t = await this.o.store.insertTarget({
      workspaceId,
      name: input.name,
      kind: "slurm",
      settings,
      secretName,
      createdBy,
    });
    if (!t)
      throw new ServerError(
        ServerErrorCode.CONFLICT,
        `A compute target named "${input.name}" is already attached`,
      );
    return t;
  }

  async target(workspaceId: string, name: string): Promise<ComputeTargetRecord | null> {
    return COMPUTE_NAME.test(name) ? this.o.store.getTarget(workspaceId, name) : null;
  }

  async detach(workspaceId: string, name: string): Promise<boolean> {
    const t = await this.target(workspaceId, name);
    if (!t) return false;
    await this.o.store.deleteTarget(workspaceId, name);
    if (t.secretName) await this.o.secrets?.deleteSecret(workspaceId, t.secretName);
    return true;
  }

  /** A REST client for a target's (or a submitted job's) settings, with its token from the secrets. */
  async client(
    workspaceId: string,
    settings: SlurmTargetSettings,
    secretName: string | null,
  ): Promise<SlurmRest> {
    const token = secretName
      ? ((await this.o.secrets?.getSecret(workspaceId, secretName)) ?? undefined)
      : undefined;
    return new SlurmRest({ restUrl: settings.restUrl, user: settings.user ?? undefined, token });
  }

  // ---- datastores ----------------------------------------------------------------------------
  async createDatastore(
    workspaceId: string,
    createdBy: string,
    input: { name: string; kind: "directory" | "blob"; path?: string; description?: string },
  ): Promise<DatastoreRecord> {
    let path: string | null = null;
    if (input.kind === "directory") {
      path = checkPlainDir("path", input.path ?? "", "/shared/datasets/images");
      if (!existsSync(path) || !statSync(path).isDirectory()) {
        throw bad(
          "path",
          `Expected path to be an existing directory every target reaches; ${preview(path)} is not a directory here`,
        );
      }
    }
    const d = await this.o.store.insertDatastore({
      workspaceId,
      name: input.name,
      kind: input.kind,
      path,
      description: input.description ?? null,
      createdBy,
    });
    if (!d)
      throw new ServerError(ServerErrorCode.CONFLICT, `A datastore named "${input.name}" already exists`);
    return d;
  }

  async datastore(workspaceId: string, name: string): Promise<DatastoreRecord> {
    const d = COMPUTE_NAME.test(name) ? await this.o.store.getDatastore(workspaceId, name) : null;
    if (!d)
      throw new ServerError(ServerErrorCode.NOT_FOUND, `No datastore ${preview(name)} in this workspace`);
    return d;
  }

  /** Upload a version of a blob datastore (files base64): same files, same version. */
  async uploadVersion(
    workspaceId: string,
    createdBy: string,
    name: string,
    files: { path: string; content: string }[],
  ): Promise<{ created: boolean; version: DatastoreVersionRecord }> {
    const d = await this.datastore(workspaceId, name);
    if (d.kind !== "blob") {
      throw bad(
        "kind",
        `Expected a blob datastore to upload to; "${name}" is a directory datastore (${d.path}): write into the directory instead`,
      );
    }
    if (files.length === 0) throw bad("files", "Expected at least one file to upload");
    const seen = new Set<string>();
    const out: DatastoreFile[] = [];
    for (const f of files) {
      checkRelativePath(f.path, "datastore file path");
      if (seen.has(f.path)) throw bad("files", `Expected each path once; ${preview(f.path)} is listed twice`);
      seen.add(f.path);
      const bytes = new Uint8Array(Buffer.from(f.content, "base64"));
      out.push({ path: f.path, digest: await this.o.blobs.put(bytes), size: bytes.length });
    }
    out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const digest = `sha256:${createHash("sha256")
      .update(JSON.stringify(out.map((f) => [f.path, f.digest])))
      .digest("hex")}`;
    return this.o.store.addVersion({
      workspaceId,
      name,
      digest,
      files: out,
      size: out.reduce((n, f) => n + f.size, 0),
      createdBy,
    });
  }

  /** Check the datastore arguments of a run and pin what each reads (a blob datastore's version). */
  async resolveInputs(workspaceId: string, args: (string | DatastoreArgument)[]): Promise<ResolvedInput[]> {
    const out: ResolvedInput[] = [];
    for (const [index, a] of args.entries()) {
      if (typeof a === "string") continue;
      const d = await this.datastore(workspaceId, a.datastore);
      if (d.kind === "directory") {
        if (a.version !== undefined) {
          throw bad(
            `arguments.${index}.version`,
            `arguments.${index}.version: expected no version for directory datastore "${d.name}" (a directory is not versioned)`,
          );
        }
        out.push({
          index,
          datastore: d.name,
          kind: "directory",
          mode: a.mode,
          version: null,
          digest: null,
          path: d.path,
        });
        continue;
      }
      const version = a.version ?? d.latestVersion;
      const v = version > 0 ? await this.o.store.getVersion(workspaceId, d.name, version) : null;
      if (!v) {
        throw bad(
          `arguments.${index}.version`,
          `arguments.${index}.version: expected a version of datastore "${d.name}" (it has ${d.latestVersion}: upload one with \`mlenv datastore upload\`); received ${a.version ?? "latest"}`,
        );
      }
      out.push({
        index,
        datastore: d.name,
        kind: "blob",
        mode: a.mode,
        version,
        digest: v.digest,
        path: null,
      });
    }
    return out;
  }

  /**
   * The path a run's script receives for an input, making the data appear there first:
   * `mount` of a directory is the directory itself; `mount` of a blob version is its unpacked
   * copy under `cacheRoot` (made once per digest, read-only); `download` copies into `workDir/inputs/<name>`.
   */
  async materialiseInput(
    workspaceId: string,
    input: ResolvedInput,
    options: { workDir: string; cacheRoot?: string },
  ): Promise<string> {
    if (input.mode === "mount") {
      if (input.kind === "directory") return input.path as string;
      return this.#unpackVersion(
        workspaceId,
        input,
        join(options.cacheRoot ?? this.o.dataCacheDir, digestHex(input)),
      );
    }
    const target = join(options.workDir, "inputs", input.datastore);
    await rm(target, { recursive: true, force: true });
    if (input.kind === "directory") {
      await cp(input.path as string, target, { recursive: true, dereference: false, verbatimSymlinks: true });
    } else {
      await this.#writeVersion(workspaceId, input, target);
    }
    return target;
  }

  async #unpackVersion(workspaceId: string, input: ResolvedInput, dir: string): Promise<string> {
    if (existsSync(join(dir, ".mlenv-complete"))) return join(dir, "data");
    const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
    await this.#writeVersion(workspaceId, input, join(tmp, "data"));
    await writeFile(join(tmp, ".mlenv-complete"), `${input.digest}\n`);
    await mkdir(join(dir, ".."), { recursive: true });
    await rename(tmp, dir).catch(async () => {
      // another process unpacked the same digest first
      await rm(tmp, { recursive: true, force: true });
    });
    return join(dir, "data");
  }

  async #writeVersion(workspaceId: string, input: ResolvedInput, dir: string): Promise<void> {
    const v = await this.o.store.getVersion(workspaceId, input.datastore, input.version ?? 0);
    if (!v) throw new Error(`datastore ${input.datastore} version ${input.version} is gone`);
    for (const f of v.files) {
      checkRelativePath(f.path, "datastore file path");
      const bytes = await this.o.blobs.get(f.digest);
      if (!bytes) throw new Error(`blob ${f.digest} of datastore ${input.datastore} is missing`);
      const p = join(dir, ...f.path.split("/"));
      await mkdir(join(p, ".."), { recursive: true });
      await writeFile(p, bytes, { mode: 0o444 });
    }
  }
}

function digestHex(input: ResolvedInput): string {
  return (input.digest ?? "").replace(/^sha256:/, "");
}

/** The cluster answers and `partition` is one of its partitions; errors name the setting. */
export async function checkCluster(rest: SlurmRest, partition: string, setting: string): Promise<void> {
  let names: string[];
  try {
    await rest.ping();
    names = (await rest.partitions()).map((p) => p.name);
  } catch (e) {
    if (e instanceof SlurmRestError) {
      const setting = e.kind === "unauthorized" ? "token" : "restUrl";
      throw bad(setting, `${setting}: ${e.message}`);
    }
    throw e;
  }
  if (!names.includes(partition)) {
    throw bad(
      setting,
      `Expected ${setting} to be a partition of the cluster (${names.join(", ") || "none"}); received ${preview(partition)}`,
    );
  }
}

/** Files under `root` (symlinks skipped), as POSIX paths relative to `base`, sorted. */
export async function listFiles(
  root: string,
  base: string,
): Promise<{ path: string; full: string; size: number }[]> {
  const out: { path: string; full: string; size: number }[] = [];
  for await (const p of outputFiles(root)) {
    out.push({ path: relative(base, p).split(sep).join("/"), full: p, size: (await stat(p)).size });
  }
  return out;
}
