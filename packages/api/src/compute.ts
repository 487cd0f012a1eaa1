import { z } from "zod";
import { NulFree } from "./common";
import { resource } from "./resource";
import { admin, reader, writer } from "./route";

/** Compute targets (Slurm clusters) and datastores. */

/** A target or datastore name: lower-case letters, digits and `-` (it appears in paths and job names). */
export const COMPUTE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
/** Names Slurm knows (partition, QoS, account, user): no shell or path metacharacters. */
const SLURM_WORD = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** An absolute path of plain characters (it reaches job scripts and other machines' file systems). */
export const PLAIN_PATH = /^\/[A-Za-z0-9._/-]{0,1000}$/;

const word = (setting: string, example: string) =>
  z
    .string()
    .regex(
      SLURM_WORD,
      `${setting}: expected letters, digits, _ . - (e.g. "${example}"); shell and path metacharacters are refused`,
    );

/** `POST /api/v1/compute` for a Slurm cluster (what `mlenv compute attach slurm` sends). */
export const AttachSlurmSchema = z.object({
  kind: z.literal("slurm"),
  name: z
    .string()
    .regex(
      COMPUTE_NAME,
      'name: expected lower-case letters, digits and "-" starting with a letter, e.g. "gpu-cluster"',
    ),
  /** `unix:/path/to/slurmrestd.sock` (rest_auth/local) or `http://host:port` (JWT). */
  restUrl: z.string().min(1).max(1100),
  /** A directory every node and this server see at the same path; runs and environments live under it. */
  sharedDir: z.string().min(1).max(1000),
  /** The default partition of runs on this target. */
  partition: word("partition", "gpu"),
  qos: word("qos", "normal").optional(),
  account: word("account", "ml-team").optional(),
  /** JWT auth: the Slurm user the token belongs to. */
  user: word("user", "mlenv").optional(),
  /** JWT auth: the token; stored as a workspace secret and never shown back. */
  token: z.string().min(1).max(8192).optional(),
  /** The base interpreter of environments on the cluster's nodes (default python3 on the server's PATH). */
  python: z.string().regex(PLAIN_PATH, "python: expected an absolute path like /usr/bin/python3").optional(),
  /**
   * Run jobs in the run's environment image instead of a venv on the shared directory: `docker`
   * (each node's Docker engine, reachable by the job user; no network, or the host's).
   */
  containers: z.enum(["docker"]).optional(),
});
export type AttachSlurmInput = z.infer<typeof AttachSlurmSchema>;

/** What is stored of a Slurm target (the token lives in the workspace's secrets). */
export const SlurmTargetSettingsSchema = z.object({
  restUrl: z.string(),
  sharedDir: z.string(),
  partition: z.string(),
  qos: z.string().nullable(),
  account: z.string().nullable(),
  user: z.string().nullable(),
  python: z.string().nullable(),
  /** How jobs run: `docker` containers of the run's image; null (or absent): a venv on the shared directory. */
  containers: z.enum(["docker"]).nullable().optional(),
});
export type SlurmTargetSettings = z.output<typeof SlurmTargetSettingsSchema>;

/** A run's resources on a cluster target (`resources` of `POST /api/v1/runs`). */
export const ResourcesSchema = z.object({
  nodes: z.number().int().min(1).max(1024).default(1),
  tasksPerNode: z.number().int().min(1).max(1024).default(1),
  cpusPerTask: z.number().int().min(1).max(1024).default(1),
  /** Memory per node in MiB (Slurm's --mem). */
  memoryMb: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024)
    .optional(),
  /** GPUs per node (GRES `gpu`). */
  gpus: z.number().int().min(0).max(64).optional(),
  /** Wall-clock limit in minutes (Slurm's --time). */
  timeLimitMinutes: z.number().int().min(1).max(525_600).optional(),
  partition: word("resources.partition", "gpu").optional(),
  qos: word("resources.qos", "normal").optional(),
  account: word("resources.account", "ml-team").optional(),
  /** How tasks are started when there is more than one: PyTorch or MPI rank variables (both are set). */
  distribution: z.enum(["pytorch", "mpi"]).optional(),
});
export type RunResources = z.infer<typeof ResourcesSchema>;

/** A script argument that names a datastore (`ds.as_mount()` / `ds.as_download()`). */
export const DatastoreArgumentSchema = z.object({
  datastore: z.string().regex(COMPUTE_NAME, 'datastore: expected a datastore name like "images"'),
  mode: z.enum(["mount", "download"]),
  /** A blob datastore's version (default: its latest). */
  version: z.number().int().positive().optional(),
});
export type DatastoreArgument = z.infer<typeof DatastoreArgumentSchema>;

/** `POST /api/v1/datastores`. */
export const CreateDatastoreSchema = z.union([
  z.object({
    name: z.string().regex(COMPUTE_NAME, 'name: expected lower-case letters, digits and "-", e.g. "images"'),
    kind: z.literal("directory"),
    path: z.string().regex(PLAIN_PATH, "path: expected an absolute path of letters, digits, . _ / -"),
    description: z.string().max(10_000).optional(),
  }),
  z.object({
    name: z.string().regex(COMPUTE_NAME, 'name: expected lower-case letters, digits and "-", e.g. "images"'),
    kind: z.literal("blob"),
    description: z.string().max(10_000).optional(),
  }),
]);

/** A compute target as shown (credentials never). */
export const ComputeTargetView = z.object({
  name: z.string(),
  kind: z.enum(["local", "docker", "slurm"]),
  builtIn: z.boolean(),
  settings: SlurmTargetSettingsSchema.nullable(),
  credentials: z.enum(["none", "secret"]).describe("whether a token is stored (as a workspace secret)"),
  createdBy: z.string().nullable(),
  createdAt: z.string().nullable(),
});

export const DatastoreView = z.object({
  name: z.string(),
  kind: z.enum(["directory", "blob"]),
  path: z.string().nullable(),
  description: z.string().nullable(),
  latestVersion: z.number().int(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const DatastoreVersionView = z.object({
  name: z.string(),
  version: z.number().int(),
  digest: z.string(),
  files: z.array(z.object({ path: z.string(), digest: z.string(), size: z.number().int() })),
  size: z.number().int(),
  createdBy: z.string(),
  createdAt: z.string(),
});

/** `POST /api/v1/datastores/{name}/versions`: files base64. */
export const DatastoreUploadSchema = z.object({
  files: z
    .array(z.object({ path: NulFree, content: z.string() }))
    .min(1)
    .max(20_000),
});

export const DatastoreDetailView = DatastoreView.extend({ versions: z.array(DatastoreVersionView) });
export const DatastoreUploadedSchema = z.object({ created: z.boolean(), version: DatastoreVersionView });

export type ComputeTarget = z.output<typeof ComputeTargetView>;
export type DatastoreInfo = z.output<typeof DatastoreView>;
export type DatastoreVersion = z.output<typeof DatastoreVersionView>;
export type DatastoreDetail = z.output<typeof DatastoreDetailView>;
/** A run's resources as a client sends them (defaults not yet applied). */
export type RunResourcesInput = z.input<typeof ResourcesSchema>;

const target = resource("/api/v1/compute/{name}", ComputeTargetView);
const datastore = resource("/api/v1/datastores/{name}", DatastoreView, DatastoreDetailView);

export const listComputeTargets = target.list(
  reader,
  "List compute targets: local and docker, then the attached ones (credentials never shown)",
);

export const getComputeTarget = target.get(reader, "One compute target");

export const attachComputeTarget = target.create(
  admin,
  "Attach a Slurm cluster (validated: the REST endpoint answers, the partition exists); a token is kept as a workspace secret",
  {
    body: AttachSlurmSchema,
    bodyExample:
      '{"kind":"slurm","name":"gpu-cluster","restUrl":"unix:/run/slurmrestd.sock","sharedDir":"/shared/mlenv","partition":"gpu"}',
  },
);

export const detachComputeTarget = target.delete(
  admin,
  "Detach a compute target (runs already submitted keep being followed)",
);

export const createDatastore = datastore.create(
  admin,
  "Create a datastore: a directory every target reaches, or versioned uploads to the blob store",
  {
    body: CreateDatastoreSchema,
    bodyExample: '{"name":"images","kind":"directory","path":"/shared/data/images"}',
  },
);

export const listDatastores = datastore.list(reader, "List datastores");

export const getDatastore = datastore.get(reader, "One datastore with its versions");

export const uploadDatastoreVersion = writer.post("/api/v1/datastores/{name}/versions", {
  summary: "Upload a version of a blob datastore (files base64; same files answer the existing version)",
  body: DatastoreUploadSchema,
  bodyExample: '{"files":[{"path":"train.csv","content":"<base64>"}]}',
  ownBodyLimit: "snapshot",
  responses: { 200: DatastoreUploadedSchema, 201: DatastoreUploadedSchema },
});
