import { z } from "zod";
import { MAX_GPUS, NulFree, RunErrorSchema } from "./common";
import { resource } from "./resource";
import { reader, writer } from "./route";
import { EnvironmentChoiceSchema, RunEnvironmentSchema } from "./runs";

/** Models deployed as local web services (or docker containers). */

/** Largest scoring request relayed by `POST /api/v1/services/{name}/score`. */
export const MAX_SCORE_REQUEST_BYTES = 1024 * 1024;

export const DeploySchema = z.object({
  name: NulFree,
  target: z.enum(["local", "docker"]).default("local"),
  // bounds are checked by the service manager (one message for API and direct callers)
  deploymentConfig: z
    .object({
      cpuCores: z.number().nullable().optional(),
      memoryGb: z.number().nullable().optional(),
      gpus: z.number().int().min(0).max(MAX_GPUS).nullable().optional(),
      shareGpus: z.boolean().optional(),
    })
    .optional(),
  model: z.object({ name: NulFree, version: z.number().int().positive().optional() }),
  entryScript: NulFree.min(1).max(1024),
  snapshot: z.string(),
  environment: EnvironmentChoiceSchema,
  lock: z.unknown().optional(),
});

export const ServiceStatusSchema = z.enum(["deploying", "healthy", "unhealthy", "failed", "deleted"]);

export const ServiceSchema = z.object({
  id: z.string(),
  name: z.string(),
  status: ServiceStatusSchema,
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
  environment: RunEnvironmentSchema,
  port: z.number().int().nullable(),
  url: z.string().nullable(),
  restarts: z.number().int(),
  error: RunErrorSchema,
  createdBy: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export type ServiceStatus = z.output<typeof ServiceStatusSchema>;
export type Service = z.output<typeof ServiceSchema>;
export type DeployInput = z.input<typeof DeploySchema>;

const service = resource("/api/v1/services/{name}", ServiceSchema);

export const deployService = service.create(
  writer,
  "Deploy a model as a local web service (or a docker container) running an entry script",
  {
    body: DeploySchema,
    bodyExample:
      '{"name":"scoring","model":{"name":"my-model"},"entryScript":"score.py","snapshot":"sha256:…","environment":{"name":"my-env"}}',
  },
);

export const listServices = service.list(reader, "List services");

export const getService = service.get(reader, "One service");

export const serviceLogs = service.logs(reader, ServiceStatusSchema, {
  lines: "Service log lines",
  end: "the service when it fails or is deleted",
});

export const scoreService = reader.post("/api/v1/services/{name}/score", {
  summary: "Relay a JSON request (at most 1 MiB) to the service; answers with its status and JSON",
  body: z.unknown(),
  rawBody: { contentType: "application/json" },
  responses: { 200: z.unknown() },
});

export const deleteService = service.delete(writer, "Delete a service (stops its worker)");
