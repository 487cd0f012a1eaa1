import { z } from "zod";
import { resource } from "./resource";
import { noToken, reader, writer } from "./route";

/** Image builds of environment versions. */

export const BuildSelectorSchema = z.object({
  version: z
    .union([z.number().int().min(1), z.string()])
    .nullable()
    .optional()
    .describe("a version number (default: the latest)"),
  label: z.string().optional().describe("a label such as production, instead of a version"),
});
export const BuildSelectorQuerySchema = z.object({
  version: z.string().optional().describe("a version number (default: the latest)"),
  label: z.string().optional(),
});
export const BuildErrorSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    step: z
      .object({
        index: z.number().int().nullable(),
        total: z.number().int().nullable(),
        instruction: z.string().nullable(),
        output: z.string(),
      })
      .optional(),
  })
  .nullable();
export const BuildJobSchema = z.object({
  id: z.string(),
  imageKey: z.string(),
  image: z.string().describe("<registry>/mlenv/env_<hex>:latest"),
  status: z.enum(["queued", "running", "succeeded", "failed", "canceled"]),
  context: z
    .looseObject({ environment: z.string().optional(), version: z.number().int().optional() })
    .describe("{environment, version} of the request"),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  outcome: z
    .object({
      image: z.string(),
      imageId: z.string().nullable(),
      digest: z.string().nullable(),
      cacheHit: z.boolean(),
      source: z.enum(["built", "local", "registry"]),
      steps: z.array(z.object({ index: z.number().int(), instruction: z.string(), cached: z.boolean() })),
      dockerfile: z.string().nullable(),
      durationMs: z.number(),
    })
    .nullable(),
  error: BuildErrorSchema,
});
export const ImageDetailsSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  imageKey: z.string(),
  image: z.string(),
  repository: z.string(),
  registry: z.string().nullable(),
  exists: z.boolean(),
  local: z.boolean(),
  imageId: z.string().nullable(),
  digest: z.string().nullable(),
  dockerfile: z.string().nullable(),
});
export const BuildLogLineSchema = z.object({
  seq: z.number().int(),
  step: z.number().int().nullable(),
  text: z.string(),
});

export const BuildStatusSchema = BuildJobSchema.shape.status;

export type BuildJob = z.output<typeof BuildJobSchema>;
export type BuildStatus = z.output<typeof BuildStatusSchema>;
export type ImageDetails = z.output<typeof ImageDetailsSchema>;
export type BuildLogLine = z.output<typeof BuildLogLineSchema>;

export const submitBuild = writer.post("/api/v1/environments/{name}/builds", {
  summary:
    "Build (or reuse) the image of an environment version; a definition this server cannot render is refused (400)",
  body: BuildSelectorSchema,
  bodyExample: '{"version":3} or {}',
  optionalBody: true,
  responses: { 202: z.object({ job: BuildJobSchema, coalesced: z.boolean() }) },
});

export const environmentImage = reader.get("/api/v1/environments/{name}/image", {
  summary: "The image of an environment version: key, repository, registry, Dockerfile, whether it exists",
  query: BuildSelectorQuerySchema,
  responses: { 200: ImageDetailsSchema },
});

const build = resource("/api/v1/builds/{id}", BuildJobSchema);

export const getBuild = build.get(reader, "One build job");

export const buildLogs = reader.get("/api/v1/builds/{id}/logs", {
  summary:
    "The build log as server-sent events (Last-Event-ID resumes; an `end` event carries the job); ?format=json&after=seq for JSON",
  query: z.object({
    format: z.string().optional().describe("json: a JSON answer instead of events"),
    after: z.string().optional(),
  }),
  responses: { 200: z.object({ status: BuildStatusSchema, items: z.array(BuildLogLineSchema) }) },
});

export const cancelBuild = build.action(
  writer,
  "cancel",
  "Cancel a build job (the engine build stops when nobody else waits on it)",
);

export const buildSecretPayload = noToken.get("/build-secrets/v1/{nonce}", {
  summary:
    "The one-time payload of a build's pip step (wheel URLs and secrets); no token: the nonce is the credential, used once",
  responses: { 200: z.record(z.string(), z.unknown()) },
});

/** The states a build job never leaves. */
export const FINAL_BUILD_STATUSES = [
  "succeeded",
  "failed",
  "canceled",
] as const satisfies readonly BuildStatus[];
/**
 * The one spelling of a status: `canceled` for builds and runs alike. The older `cancelled` (what
 * build jobs answered before) is accepted wherever a status is read.
 */
export function canonicalStatus(status: string): string {
  return status === "cancelled" ? "canceled" : status;
}
/** Whether a build job is finished (succeeded, failed or canceled; `cancelled` is accepted). */
export function isFinalBuildStatus(status: string): boolean {
  return (FINAL_BUILD_STATUSES as readonly string[]).includes(canonicalStatus(status));
}
