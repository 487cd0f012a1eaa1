import { z } from "zod";
import { HealthSchema } from "./common";
import { route } from "./route";

/** The server itself: health, metrics and this contract as OpenAPI. */

export const health = route({
  method: "get",
  path: "/healthz",
  summary: "Health (503 when the database does not answer)",
  role: null,
  responses: { 200: HealthSchema, 503: HealthSchema },
});

export const metrics = route({
  method: "get",
  path: "/metrics",
  summary:
    "Prometheus metrics (text exposition format 0.0.4): requests, build queue, build durations, cache hits",
  role: null,
  responses: { 200: { contentType: "text/plain; version=0.0.4" } },
});

export const openApi = route({
  method: "get",
  path: "/openapi.json",
  summary: "This document (OpenAPI 3.1), generated from the route declarations of @mlenv/api",
  role: null,
  responses: { 200: z.record(z.string(), z.unknown()) },
});
