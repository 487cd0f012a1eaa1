import { compute as C } from "@mlenv/api";
import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { encodeFiles, type SnapshotFile } from "./runs";
import type { Workspace } from "./workspace";

/**
 * A compute target as the server describes it (credentials are never shown): `local` and `docker`
 * are `builtIn` and cannot be detached; `credentials: "secret"` means a token is stored as a
 * workspace secret.
 */
export type ComputeTargetInfo = C.ComputeTarget;

/**
 * Settings of a Slurm cluster to attach (`mlenv compute attach slurm`): `restUrl` is
 * `unix:/path/to/slurmrestd.sock` (rest_auth/local) or `http://host:port` (JWT: `user` and
 * `token`, kept as a workspace secret); `sharedDir` a directory the server and every node see at
 * the same path.
 */
export type AttachSlurmOptions = Omit<C.AttachSlurmInput, "kind">;

/** A run's resources on a cluster target (`memoryMb` per node, `gpus` per node). */
export type RunResources = C.RunResourcesInput;

/** A script argument naming a datastore (what `Datastore.asMount()` / `asDownload()` give). */
export type DatastoreArgument = C.DatastoreArgument;

export type DatastoreInfo = C.DatastoreInfo;

export type DatastoreVersionInfo = C.DatastoreVersion;

/** The reference's `PyTorchConfiguration`: `processCount` processes over `nodeCount` nodes. */
export class PyTorchConfiguration {
  constructor(readonly options: { processCount: number; nodeCount?: number }) {}
  resources(): RunResources {
    const nodes = this.options.nodeCount ?? 1;
    if (this.options.processCount % nodes !== 0) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected processCount to be a multiple of nodeCount (one task per process, the same on every node); received ${this.options.processCount} over ${nodes}`,
      );
    }
    return { nodes, tasksPerNode: this.options.processCount / nodes, distribution: "pytorch" };
  }
}

/** The reference's `MpiConfiguration`: `processCountPerNode` processes on each of `nodeCount` nodes. */
export class MpiConfiguration {
  constructor(readonly options: { processCountPerNode?: number; nodeCount?: number }) {}
  resources(): RunResources {
    return {
      nodes: this.options.nodeCount ?? 1,
      tasksPerNode: this.options.processCountPerNode ?? 1,
      distribution: "mpi",
    };
  }
}

/** Compute targets of a workspace (`/api/v1/compute`). */
export class ComputeClient {
  constructor(readonly workspace: Workspace) {}

  async list(): Promise<ComputeTargetInfo[]> {
    return (await this.workspace.call(C.listComputeTargets)).items;
  }

  get(name: string): Promise<ComputeTargetInfo> {
    return this.workspace.call(C.getComputeTarget, { params: { name } });
  }

  /** Attach a Slurm cluster (admin); the server checks that it answers and the partition exists. */
  attachSlurm(options: AttachSlurmOptions): Promise<ComputeTargetInfo> {
    return this.workspace.call(C.attachComputeTarget, { body: { kind: "slurm", ...options } });
  }

  async detach(name: string): Promise<void> {
    await this.workspace.call(C.detachComputeTarget, { params: { name } });
  }
}

/** A named datastore; `asMount()`/`asDownload()` make script arguments resolved where the run executes. */
export class Datastore {
  constructor(
    readonly workspace: Workspace,
    readonly info: DatastoreInfo,
  ) {}

  get name(): string {
    return this.info.name;
  }

  static async get(workspace: Workspace, name: string): Promise<Datastore> {
    return new Datastore(workspace, await workspace.call(C.getDatastore, { params: { name } }));
  }

  static async list(workspace: Workspace): Promise<Datastore[]> {
    const r = await workspace.call(C.listDatastores);
    return r.items.map((d) => new Datastore(workspace, d));
  }

  /** A directory every target reaches (e.g. on the cluster's shared file system). */
  static async registerDirectory(
    workspace: Workspace,
    options: { name: string; path: string; description?: string },
  ): Promise<Datastore> {
    const info = await workspace.call(C.createDatastore, { body: { kind: "directory", ...options } });
    return new Datastore(workspace, info);
  }

  /** Versioned uploads to the server's blob store. */
  static async registerBlob(
    workspace: Workspace,
    options: { name: string; description?: string },
  ): Promise<Datastore> {
    const info = await workspace.call(C.createDatastore, { body: { kind: "blob", ...options } });
    return new Datastore(workspace, info);
  }

  /** Upload a folder's files as a new version (the same files answer the existing version). */
  async upload(files: SnapshotFile[]): Promise<{ created: boolean; version: DatastoreVersionInfo }> {
    return this.workspace.call(C.uploadDatastoreVersion, {
      params: { name: this.name },
      body: { files: encodeFiles(files).map(({ path, content }) => ({ path, content })) },
    });
  }

  /** Read-only where the data lies (a directory's path; a blob version unpacked once). */
  asMount(version?: number): DatastoreArgument {
    return this.#arg("mount", version);
  }

  /** Copied into the run's working directory (`./inputs/<name>`). */
  asDownload(version?: number): DatastoreArgument {
    return this.#arg("download", version);
  }

  #arg(mode: "mount" | "download", version?: number): DatastoreArgument {
    if (version !== undefined && (!Number.isSafeInteger(version) || version < 1)) {
      throw new MlenvError(
        SdkErrorCodes.invalidArgument,
        `Expected a datastore version of 1 or more; received ${preview(version)}`,
      );
    }
    return { datastore: this.name, mode, ...(version !== undefined ? { version } : {}) };
  }
}
