import { z } from "zod";
import type { RouteDoc } from "../http/openapi";
import { DeploySchema, FilesSchema, ModelSchema, SubmitSchema } from "./routes";

const Json = z.record(z.string(), z.unknown());
const RunError = z.object({ code: z.string(), message: z.string() }).nullable();
const Environment = z.object({
  name: z.string(),
  version: z.number().int(),
  definitionHash: z.string(),
  imageKey: z.string(),
  definition: Json,
  lock: Json.nullable(),
});
const Artifact = z.object({ path: z.string(), digest: z.string(), size: z.number().int() });
const Run = z.object({
  id: z.string(),
  experiment: z.string(),
  number: z.number().int().describe("per-experiment run number"),
  status: z.enum(["queued", "preparing", "running", "completed", "failed", "canceled"]),
  target: z.string().describe("local, docker or an attached compute target"),
  script: z.string(),
  arguments: z.array(z.string()),
  snapshot: z.string(),
  environment: Environment,
  exitCode: z.number().int().nullable(),
  error: RunError,
  artifacts: z.array(Artifact),
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
const Gpus = z.object({
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
const Model = z.object({
  name: z.string(),
  version: z.number().int(),
  digest: z.string(),
  files: z.array(Artifact),
  runId: z.string().nullable(),
  description: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});
const Service = z.object({
  id: z.string(),
  name: z.string(),
  status: z.enum(["deploying", "healthy", "unhealthy", "failed", "deleted"]),
  target: z.enum(["local", "docker"]),
  deploymentConfig: z.object({
    cpuCores: z.number().nullable(),
    memoryGb: z.number().nullable(),
    gpus: z.number().int().optional(),
    shareGpus: z.boolean().optional(),
  }),
  limitsEnforced: z.boolean(),
  model: z.object({ name: z.string(), version: z.number().int() }),
  entryScript: z.string(),
  snapshot: z.string(),
  environment: Environment,
  port: z.number().int().nullable(),
  url: z.string().nullable(),
  restarts: z.number().int(),
  error: RunError,
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const Logs = z.object({
  items: z.array(
    z.object({
      seq: z.number().int(),
      stream: z.enum(["stdout", "stderr", "system"]),
      text: z.string(),
    }),
  ),
  status: z.string(),
  next: z.number().int().describe("pass as ?after= to get the lines after these"),
});
const After = z.object({ after: z.string().optional().describe("last seq seen (0 = from the start)") });

/**
 * The routes of {@link runRoutes} (runs, snapshots, models, services) for /openapi.json. Request
 * bodies are the schemas the routes parse with; the artifact download answers bytes.
 */
export const runRouteDocs: readonly RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/snapshots",
    summary: "Upload a run's source directory (files base64); the id is usable in this workspace only",
    role: "writer",
    body: z.object({ files: FilesSchema }),
    responses: { 201: z.object({ id: z.string(), files: z.number().int(), size: z.number().int() }) },
  },
  {
    method: "post",
    path: "/api/v1/runs",
    summary:
      "Submit a run of a script from a snapshot in an environment (local or docker target); with gpus it waits until that many GPUs are free (409 E_GPU_UNAVAILABLE when the machine has fewer)",
    role: "writer",
    body: SubmitSchema,
    responses: { 201: Run },
  },
  {
    method: "get",
    path: "/api/v1/gpus",
    summary: "The server machine's GPUs (nvidia-smi -L), how many runs and services hold each, and __cuda",
    role: "reader",
    responses: { 200: Gpus },
  },
  {
    method: "get",
    path: "/api/v1/runs",
    summary: "List runs, newest first, optionally of one experiment",
    role: "reader",
    query: z.object({ experiment: z.string().optional() }),
    responses: { 200: z.object({ items: z.array(Run) }) },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}",
    summary: "One run, with the exact environment it used",
    role: "reader",
    responses: { 200: Run },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}/logs",
    summary: "Log lines after ?after=seq (poll until the status is final)",
    role: "reader",
    query: After,
    responses: { 200: Logs },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}/metrics",
    summary: "Metrics the script logged",
    role: "reader",
    responses: {
      200: z.object({
        items: z.array(z.object({ name: z.string(), value: z.unknown(), step: z.number(), at: z.string() })),
      }),
    },
  },
  {
    method: "get",
    path: "/api/v1/runs/{id}/artifacts/content",
    summary: "The bytes of one artifact (application/octet-stream)",
    role: "reader",
    query: z.object({ path: z.string().describe("e.g. outputs/model.json") }),
    responses: { 200: null },
  },
  {
    method: "post",
    path: "/api/v1/runs/{id}/cancel",
    summary: "Cancel a run (stops its whole process tree)",
    role: "writer",
    responses: { 200: Run },
  },
  {
    method: "post",
    path: "/api/v1/models",
    summary: "Register a model from a run's outputs ({runId, path}) or from files (same files: same version)",
    role: "writer",
    body: ModelSchema,
    responses: {
      200: z.object({ created: z.boolean(), model: Model }),
      201: z.object({ created: z.boolean(), model: Model }),
    },
  },
  {
    method: "get",
    path: "/api/v1/models",
    summary: "List models, optionally the versions of one name",
    role: "reader",
    query: z.object({ name: z.string().optional() }),
    responses: { 200: z.object({ items: z.array(Model) }) },
  },
  {
    method: "get",
    path: "/api/v1/models/{name}",
    summary: "The latest version of a model, or ?version=N",
    role: "reader",
    query: z.object({ version: z.string().optional() }),
    responses: { 200: Model },
  },
  {
    method: "post",
    path: "/api/v1/services",
    summary: "Deploy a model as a local web service (or a docker container) running an entry script",
    role: "writer",
    body: DeploySchema,
    responses: { 201: Service },
  },
  {
    method: "get",
    path: "/api/v1/services",
    summary: "List services",
    role: "reader",
    responses: { 200: z.object({ items: z.array(Service) }) },
  },
  {
    method: "get",
    path: "/api/v1/services/{name}",
    summary: "One service",
    role: "reader",
    responses: { 200: Service },
  },
  {
    method: "get",
    path: "/api/v1/services/{name}/logs",
    summary: "Service log lines after ?after=seq",
    role: "reader",
    query: After,
    responses: { 200: Logs },
  },
  {
    method: "post",
    path: "/api/v1/services/{name}/score",
    summary: "Relay a JSON request (at most 1 MiB) to the service; answers with its status and JSON",
    role: "reader",
    body: z.unknown(),
    responses: { 200: z.unknown() },
  },
  {
    method: "delete",
    path: "/api/v1/services/{name}",
    summary: "Delete a service (stops its worker)",
    role: "writer",
    responses: { 204: null },
  },
];
