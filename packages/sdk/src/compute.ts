import { MlenvError, preview, SdkErrorCodes } from "./errors";
import { seg } from "./internal/url";
import type { SnapshotFile } from "./runs";
import type { Workspace } from "./workspace";

/** A compute target as the server describes it (credentials are never shown). */
export interface ComputeTargetInfo {
  name: string;
  kind: "local" | "docker" | "slurm";
  /** `local` and `docker` always exist and cannot be detached. */
  builtIn: boolean;
  settings: {
    restUrl: string;
    sharedDir: string;
    partition: string;
    qos: string | null;
    account: string | null;
    user: string | null;
    python: string | null;
    /** `docker`: jobs run the run's image; null or absent: a venv on the shared directory. */
    containers?: "docker" | null;
  } | null;
  /** `secret`: a token is stored as a workspace secret. */
  credentials: "none" | "secret";
  createdBy: string | null;
  createdAt: string | null;
}

/** Settings of a Slurm cluster to attach (`mlenv compute attach slurm`). */
export interface AttachSlurmOptions {
  name: string;
  /** `unix:/path/to/slurmrestd.sock` (rest_auth/local) or `http://host:port` (JWT: user and token). */
  restUrl: string;
  /** A directory the server and every node see at the same path. */
  sharedDir: string;
  partition: string;
  qos?: string;
  account?: string;
  user?: string;
  /** Kept as a workspace secret, never shown back. */
  token?: string;
  /** The base interpreter of environments on the nodes (default /usr/bin/python3). */
  python?: string;
  /** Run jobs in the run's image with each node's Docker engine instead of a venv. */
  containers?: "docker";
}

/** A run's resources on a cluster target. */
export interface RunResources {
  nodes?: number;
  tasksPerNode?: number;
  cpusPerTask?: number;
  /** Memory per node, MiB. */
  memoryMb?: number;
  /** GPUs per node (GRES gpu). */
  gpus?: number;
  timeLimitMinutes?: number;
  partition?: string;
  qos?: string;
  account?: string;
  distribution?: "pytorch" | "mpi";
}

/** A script argument naming a datastore (what `Datastore.asMount()` / `asDownload()` give). */
export interface DatastoreArgument {
  datastore: string;
  mode: "mount" | "download";
  version?: number;
}

export interface DatastoreInfo {
  name: string;
  kind: "directory" | "blob";
  path: string | null;
  description: string | null;
  latestVersion: number;
  createdBy: string;
  createdAt: string;
}

export interface DatastoreVersionInfo {
  name: string;
  version: number;
  digest: string;
  files: { path: string; digest: string; size: number }[];
  size: number;
  createdBy: string;
  createdAt: string;
}

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
    return (await this.workspace.request<{ items: ComputeTargetInfo[] }>("GET", "/api/v1/compute")).items;
  }

  get(name: string): Promise<ComputeTargetInfo> {
    return this.workspace.request("GET", `/api/v1/compute/${seg(name)}`);
  }

  /** Attach a Slurm cluster (admin); the server checks that it answers and the partition exists. */
  attachSlurm(options: AttachSlurmOptions): Promise<ComputeTargetInfo> {
    return this.workspace.request("POST", "/api/v1/compute", { body: { kind: "slurm", ...options } });
  }

  async detach(name: string): Promise<void> {
    await this.workspace.request("DELETE", `/api/v1/compute/${seg(name)}`);
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
    return new Datastore(workspace, await workspace.request("GET", `/api/v1/datastores/${seg(name)}`));
  }

  static async list(workspace: Workspace): Promise<Datastore[]> {
    const r = await workspace.request<{ items: DatastoreInfo[] }>("GET", "/api/v1/datastores");
    return r.items.map((d) => new Datastore(workspace, d));
  }

  /** A directory every target reaches (e.g. on the cluster's shared file system). */
  static async registerDirectory(
    workspace: Workspace,
    options: { name: string; path: string; description?: string },
  ): Promise<Datastore> {
    const info = await workspace.request<DatastoreInfo>("POST", "/api/v1/datastores", {
      body: { kind: "directory", ...options },
    });
    return new Datastore(workspace, info);
  }

  /** Versioned uploads to the server's blob store. */
  static async registerBlob(
    workspace: Workspace,
    options: { name: string; description?: string },
  ): Promise<Datastore> {
    const info = await workspace.request<DatastoreInfo>("POST", "/api/v1/datastores", {
      body: { kind: "blob", ...options },
    });
    return new Datastore(workspace, info);
  }

  /** Upload a folder's files as a new version (the same files answer the existing version). */
  async upload(files: SnapshotFile[]): Promise<{ created: boolean; version: DatastoreVersionInfo }> {
    const body = {
      files: files.map((f) => ({ path: f.path, content: base64(f.content) })),
    };
    return this.workspace.request("POST", `/api/v1/datastores/${seg(this.name)}/versions`, { body });
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

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
