import { z } from "zod";
import { HealthSchema } from "./common";
import { noToken } from "./route";

/** The server itself: health, metrics and this contract as OpenAPI. */

export const health = noToken.get("/healthz", {
  summary: "Health (503 when the database does not answer)",
  responses: { 200: HealthSchema, 503: HealthSchema },
});

export const metrics = noToken.get("/metrics", {
  summary:
    "Prometheus metrics (text exposition format 0.0.4): requests, build queue, build durations, cache hits",
  responses: { 200: { contentType: "text/plain; version=0.0.4" } },
});

export const openApi = noToken.get("/openapi.json", {
  summary: "This document (OpenAPI 3.1), generated from the route declarations of @mlenv/api",
  responses: { 200: z.record(z.string(), z.unknown()) },
});
