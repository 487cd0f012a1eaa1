import { z } from "zod";
import { canonicalStatus } from "./builds";
import { ArtifactSchema, BYTES, FilesSchema, itemsOf, MAX_GPUS, NulFree, RunErrorSchema } from "./common";
import { DatastoreArgumentSchema, ResourcesSchema } from "./compute";
import { resource } from "./resource";
import { reader, writer } from "./route";

/** Runs of scripts from source snapshots, and the server's GPUs. */

const Json = z.record(z.string(), z.unknown());

/** Which environment a run or service uses: a registered one, or a definition inline. */
export const EnvironmentChoiceSchema = z
  .union([
    z.object({
      name: NulFree.min(1).max(255),
      version: z.number().int().positive().optional(),
      label: NulFree.max(63).optional(),
    }),
    z.object({ definition: z.record(z.string(), z.unknown()) }),
  ])
  .nullable()
  .optional();

export const SnapshotUploadSchema = z.object({ files: FilesSchema });
export const SnapshotSchema = z.object({ id: z.string(), files: z.number().int(), size: z.number().int() });

export const SubmitSchema = z.object({
  experiment: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/),
  script: NulFree.min(1).max(1024),
  arguments: z
    .array(z.union([NulFree.max(10_000), DatastoreArgumentSchema]))
    .max(1000)
    .default([]),
  snapshot: z.string(),
  /** `local`, `docker` or an attached compute target's name (see /api/v1/compute). */
  target: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected "local", "docker" or a compute target name like "gpu-cluster"')
    .default("local"),
  /** Resources on a compute target (ignored by local and docker). */
  resources: ResourcesSchema.optional(),
  environment: EnvironmentChoiceSchema,
  lock: z.unknown().optional(),
  gpus: z.number().int().min(0).max(MAX_GPUS).optional(),
  shareGpus: z.boolean().optional(),
  /** Network access for the run's code (default none on local and docker). */
  network: z.boolean().optional(),
});

/** The exact environment a run or service used. */
export const RunEnvironmentSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  definitionHash: z.string(),
  imageKey: z.string(),
  definition: Json,
  lock: Json.nullable(),
});

export const RunStatusSchema = z.enum(["queued", "preparing", "running", "completed", "failed", "canceled"]);

export const RunSchema = z.object({
  id: z.string(),
  experiment: z.string(),
  number: z.number().int().describe("per-experiment run number"),
  status: RunStatusSchema,
  target: z.string().describe("local, docker or an attached compute target"),
  script: z.string(),
  arguments: z.array(z.string()),
  snapshot: z.string(),
  environment: RunEnvironmentSchema,
  exitCode: z.number().int().nullable(),
  error: RunErrorSchema,
  artifacts: z.array(ArtifactSchema),
  createdBy: z.string(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  compute: z
    .record(z.string(), z.unknown())
    .nullable()
    .describe("on a compute target: {kind, target, jobIds, state, reason, resources}"),
  inputs: z
    .array(z.record(z.string(), z.unknown()))
    .nullable()
    .describe("datastore arguments read: {datastore, kind, mode, version, digest, path}"),
  gpus: z
    .object({ count: z.number().int(), share: z.boolean(), devices: z.array(z.number().int()) })
    .describe("GPUs asked for (exclusive unless share) and the nvidia-smi indices given once started"),
  network: z
    .boolean()
    .describe("whether the run asked for network access (otherwise local and docker runs have none)"),
});

export const GpusSchema = z.object({
  devices: z.array(
    z.object({
      index: z.number().int(),
      name: z.string(),
      uuid: z.string().nullable(),
      held: z.number().int().describe("runs and services holding it now"),
    }),
  ),
  cuda: z.string().nullable().describe("the __cuda virtual package version (the driver's CUDA version)"),
  cudaSource: z.enum(["CONDA_OVERRIDE_CUDA", "nvidia-smi", "none"]),
  reason: z.string().nullable().describe("why there is no GPU, when there is none"),
});

export const MetricPointSchema = z.object({
  name: z.string(),
  value: z.unknown(),
  step: z.number(),
  at: z.string(),
});

export type RunStatus = z.output<typeof RunStatusSchema>;
export type Run = z.output<typeof RunSchema>;
export type RunEnvironment = z.output<typeof RunEnvironmentSchema>;
export type RunGpus = Run["gpus"];
export type Gpus = z.output<typeof GpusSchema>;
export type MetricPoint = z.output<typeof MetricPointSchema>;
export type Snapshot = z.output<typeof SnapshotSchema>;
/** A run submission as a client sends it (defaults not yet applied). */
export type SubmitInput = z.input<typeof SubmitSchema>;
/** How a run or service names its environment, as a client sends it. */
export type EnvironmentChoice = z.input<typeof EnvironmentChoiceSchema>;

export const uploadSnapshot = writer.post("/api/v1/snapshots", {
  summary: "Upload a run's source directory (files base64); the id is usable in this workspace only",
  body: SnapshotUploadSchema,
  bodyExample: '{"files":[{"path":"train.py","content":"<base64>"}]}',
  ownBodyLimit: "snapshot",
  responses: { 201: SnapshotSchema },
});

const run = resource("/api/v1/runs/{id}", RunSchema);

export const submitRun = run.create(
  writer,
  "Submit a run of a script from a snapshot in an environment (local or docker target); with gpus it waits until that many GPUs are free (409 E_GPU_UNAVAILABLE when the machine has fewer)",
  {
    body: SubmitSchema,
    bodyExample:
      '{"experiment":"demo","script":"train.py","snapshot":"sha256:…","environment":{"name":"my-env"}}',
  },
);

export const listGpus = reader.get("/api/v1/gpus", {
  summary: "The server machine's GPUs (nvidia-smi -L), how many runs and services hold each, and __cuda",
  responses: { 200: GpusSchema },
});

export const listRuns = run.list(reader, "List runs, newest first, optionally of one experiment", {
  query: z.object({ experiment: z.string().optional() }),
});

export const getRun = run.get(reader, "One run, with the exact environment it used");

export const runLogs = run.logs(reader, RunStatusSchema, {
  lines: "Log lines",
  end: "the run when it is final",
});

export const runMetrics = reader.get("/api/v1/runs/{id}/metrics", {
  summary: "Metrics the script logged",
  responses: { 200: itemsOf(MetricPointSchema) },
});

export const runArtifact = reader.get("/api/v1/runs/{id}/artifacts/content", {
  summary: "The bytes of one artifact (application/octet-stream)",
  query: z.object({ path: z.string().optional().describe("required, e.g. outputs/model.json") }),
  responses: { 200: BYTES },
});

export const cancelRun = run.action(writer, "cancel", "Cancel a run (stops its whole process tree)");

/** The states a run never leaves. */
export const FINAL_RUN_STATUSES = ["completed", "failed", "canceled"] as const satisfies readonly z.infer<
  typeof RunStatusSchema
>[];
/** Whether a run is finished (completed, failed or canceled; `cancelled` is accepted). */
export function isFinalRunStatus(status: string): boolean {
  return (FINAL_RUN_STATUSES as readonly string[]).includes(canonicalStatus(status));
}
