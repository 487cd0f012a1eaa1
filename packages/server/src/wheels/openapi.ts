import { z } from "zod";
import type { RouteDoc } from "../http/openapi";

const Wheel = z.object({
  filename: z.string(),
  project: z.string(),
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  size: z.number().int(),
  requiresPython: z.string().nullable(),
  summary: z.string().nullable(),
  yanked: z.boolean(),
  yankedReason: z.string().nullable(),
  revision: z.number().int(),
  uploadedAt: z.string(),
  uploadedBy: z.string(),
  reference: z.string().describe("mlenv+wheel://<workspace>/<filename>#sha256=<hex>"),
});
const Revision = z.object({
  filename: z.string(),
  revision: z.number().int(),
  sha256: z.string(),
  size: z.number().int(),
  metadataSha256: z.string(),
  uploadedAt: z.string(),
  uploadedBy: z.string(),
});
const Upload = z.object({
  status: z.enum(["created", "unchanged", "replaced"]),
  wheel: Wheel,
  previous: z.object({ revision: z.number().int(), sha256: z.string() }).nullable(),
});
const Resolved = z.object({
  reference: z.string(),
  filename: z.string(),
  name: z.string(),
  sha256: z.string(),
  url: z.string(),
  requirement: z.string(),
  expiresAt: z.string(),
});
const AllowedHosts = z
  .array(z.string())
  .max(50)
  .describe(
    "hosts (pypi.corp.example, host:8443) or URL prefixes (https://host/simple/) the secret may be sent to",
  );
const Secret = z.object({
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  allowedHosts: AllowedHosts,
});
const Ttl = z.number().int().min(1).max(604_800).optional();

/**
 * The JSON routes of {@link wheelRoutes} for /openapi.json. The upload body is the raw wheel
 * (`application/octet-stream`); the simple index and file downloads answer HTML, PEP 691 JSON or
 * bytes and are listed without a JSON body schema.
 */
export const wheelRouteDocs: readonly RouteDoc[] = [
  {
    method: "put",
    path: "/upload/v1/wheels/{filename}",
    summary: "Upload a wheel (raw bytes as the body; ?overwrite=true replaces different bytes)",
    role: "writer",
    query: z.object({ overwrite: z.enum(["true", "false", "1", "0"]).optional() }),
    responses: { 200: Upload, 201: Upload },
  },
  {
    method: "get",
    path: "/api/v1/wheels",
    summary: "List the workspace's wheels",
    role: "reader",
    query: z.object({ project: z.string().optional() }),
    responses: { 200: z.object({ items: z.array(Wheel) }) },
  },
  {
    method: "post",
    path: "/api/v1/wheels/resolve",
    summary: "Resolve an mlenv+wheel:// reference to a short-lived signed URL",
    role: "reader",
    body: z.object({ reference: z.string(), ttlSeconds: Ttl }),
    responses: { 200: Resolved },
  },
  {
    method: "post",
    path: "/api/v1/wheels/render",
    summary: "Swap every wheel reference in pip lines for a signed requirement",
    role: "reader",
    body: z.object({ requirements: z.array(z.string()).max(10_000), ttlSeconds: Ttl }),
    responses: { 200: z.object({ requirements: z.array(z.string()) }) },
  },
  {
    method: "get",
    path: "/api/v1/wheels/{filename}",
    summary: "One wheel with its revisions",
    role: "reader",
    responses: { 200: Wheel.extend({ revisions: z.array(Revision) }) },
  },
  {
    method: "get",
    path: "/api/v1/wheels/{filename}/download",
    summary: "The wheel's bytes (?sha256= picks an older revision)",
    role: "reader",
    query: z.object({ sha256: z.string().optional() }),
    responses: { 200: null },
  },
  {
    method: "post",
    path: "/api/v1/wheels/{filename}/yank",
    summary: "Yank a wheel (PEP 592)",
    role: "writer",
    body: z.object({ reason: z.string().optional() }),
    responses: { 200: Wheel },
  },
  {
    method: "post",
    path: "/api/v1/wheels/{filename}/unyank",
    summary: "Undo a yank",
    role: "writer",
    responses: { 200: Wheel },
  },
  {
    method: "get",
    path: "/api/v1/secrets",
    summary: "List build secret names (values are write-only)",
    role: "admin",
    responses: { 200: z.object({ items: z.array(Secret) }) },
  },
  {
    method: "put",
    path: "/api/v1/secrets/{name}",
    summary: "Set a build secret and where it may be sent (elsewhere it is refused)",
    role: "admin",
    body: z.object({ value: z.string().min(1).max(4096), allowedHosts: AllowedHosts.optional() }),
    responses: { 200: Secret },
  },
  {
    method: "delete",
    path: "/api/v1/secrets/{name}",
    summary: "Delete a build secret",
    role: "admin",
    responses: { 204: null },
  },
  {
    method: "get",
    path: "/pypi/{workspace}/simple/",
    summary: "PEP 503/691 index root (token by HTTP Basic auth, any user name)",
    role: "reader",
    responses: { 200: null },
  },
  {
    method: "get",
    path: "/pypi/{workspace}/simple/{project}/",
    summary: "PEP 503/691 project page",
    role: "reader",
    responses: { 200: null },
  },
  {
    method: "get",
    path: "/pypi/{workspace}/files/{sha256}/{filename}",
    summary: "A wheel file (or its .metadata) from the index",
    role: "reader",
    responses: { 200: null },
  },
  {
    method: "get",
    path: "/pypi/{workspace}/signed/{sha256}/{filename}",
    summary: "A wheel by signed URL (no token; ?expires=&sig=)",
    role: null,
    query: z.object({ expires: z.string(), sig: z.string() }),
    responses: { 200: null },
  },
];
