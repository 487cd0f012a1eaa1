import { z } from "zod";
import type { RouteDoc } from "../http/openapi";

const Selector = z.object({
  version: z.number().int().min(1).optional().describe("a version number (default: the latest)"),
  label: z.string().optional().describe("a label such as production, instead of a version"),
});
const SelectorQuery = z.object({
  version: z.string().optional().describe("a version number (default: the latest)"),
  label: z.string().optional(),
});
const BuildError = z
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
const Job = z.object({
  id: z.string(),
  imageKey: z.string(),
  image: z.string().describe("<registry>/mlenv/env_<hex>:latest"),
  status: z.enum(["queued", "running", "succeeded", "failed", "cancelled"]),
  context: z.record(z.string(), z.unknown()).describe("{environment, version} of the request"),
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
  error: BuildError,
});
const Image = z.object({
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
const LogLine = z.object({ seq: z.number().int(), step: z.number().int().nullable(), text: z.string() });

/** The routes of {@link buildRoutes} (image builds) for /openapi.json. */
export const buildRouteDocs: readonly RouteDoc[] = [
  {
    method: "post",
    path: "/api/v1/environments/{name}/builds",
    summary:
      "Build (or reuse) the image of an environment version; a definition this server cannot render is refused (400)",
    role: "writer",
    body: Selector,
    responses: { 202: z.object({ job: Job, coalesced: z.boolean() }) },
  },
  {
    method: "get",
    path: "/api/v1/environments/{name}/image",
    summary: "The image of an environment version: key, repository, registry, Dockerfile, whether it exists",
    role: "reader",
    query: SelectorQuery,
    responses: { 200: Image },
  },
  {
    method: "get",
    path: "/api/v1/builds/{id}",
    summary: "One build job",
    role: "reader",
    responses: { 200: Job },
  },
  {
    method: "get",
    path: "/api/v1/builds/{id}/logs",
    summary:
      "The build log as server-sent events (Last-Event-ID resumes; an `end` event carries the job); ?format=json&after=seq for JSON",
    role: "reader",
    query: z.object({ format: z.enum(["json"]).optional(), after: z.string().optional() }),
    responses: { 200: z.object({ status: z.string(), items: z.array(LogLine) }) },
  },
  {
    method: "post",
    path: "/api/v1/builds/{id}/cancel",
    summary: "Cancel a build job (the engine build stops when nobody else waits on it)",
    role: "writer",
    responses: { 200: Job },
  },
];
