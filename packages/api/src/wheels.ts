import { z } from "zod";
import { BYTES } from "./common";
import { resource } from "./resource";
import { admin, noToken, reader, writer } from "./route";

/** Private wheels, build secrets and the per-workspace package index (PEP 503/691). */

export const WheelSchema = z.object({
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
export const WheelRevisionSchema = z.object({
  filename: z.string(),
  revision: z.number().int(),
  sha256: z.string(),
  size: z.number().int(),
  metadataSha256: z.string(),
  uploadedAt: z.string(),
  uploadedBy: z.string(),
});
export const WheelUploadSchema = z.object({
  status: z.enum(["created", "unchanged", "replaced"]),
  wheel: WheelSchema,
  previous: z.object({ revision: z.number().int(), sha256: z.string() }).nullable(),
});
export const ResolvedWheelSchema = z.object({
  reference: z.string(),
  filename: z.string(),
  name: z.string(),
  sha256: z.string(),
  url: z.string(),
  requirement: z.string(),
  expiresAt: z.string(),
});
export const AllowedHostsSchema = z
  .array(z.string())
  .max(50)
  .describe(
    "hosts (pypi.corp.example, host:8443) or URL prefixes (https://host/simple/) the secret may be sent to",
  );
export const SecretSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  allowedHosts: AllowedHostsSchema,
});
const Ttl = z.number().int().min(1).max(604_800).optional();

export const WheelDetailSchema = WheelSchema.extend({ revisions: z.array(WheelRevisionSchema) });

export type Wheel = z.output<typeof WheelSchema>;
export type WheelRevision = z.output<typeof WheelRevisionSchema>;
export type WheelDetail = z.output<typeof WheelDetailSchema>;
export type WheelUpload = z.output<typeof WheelUploadSchema>;
export type ResolvedWheel = z.output<typeof ResolvedWheelSchema>;
export type Secret = z.output<typeof SecretSchema>;

export const uploadWheel = writer.put("/upload/v1/wheels/{filename}", {
  summary: "Upload a wheel (raw bytes as the body; ?overwrite=true replaces different bytes)",
  query: z.object({
    overwrite: z.string().optional().describe("true or 1 replaces a file name holding different bytes"),
  }),
  rawBody: { contentType: "application/octet-stream" },
  ownBodyLimit: "wheel",
  responses: { 200: WheelUploadSchema, 201: WheelUploadSchema },
});

const wheel = resource("/api/v1/wheels/{filename}", WheelSchema, WheelDetailSchema);
const secret = resource("/api/v1/secrets/{name}", SecretSchema);

export const listWheels = wheel.list(reader, "List the workspace's wheels", {
  query: z.object({ project: z.string().optional() }),
});

export const resolveWheel = reader.post("/api/v1/wheels/resolve", {
  summary: "Resolve an mlenv+wheel:// reference to a short-lived signed URL",
  body: z.object({ reference: z.string(), ttlSeconds: Ttl }),
  bodyExample: '{"reference":"mlenv+wheel://default/my_pkg-1.0-py3-none-any.whl"}',
  responses: { 200: ResolvedWheelSchema },
});

export const renderWheels = reader.post("/api/v1/wheels/render", {
  summary: "Swap every wheel reference in pip lines for a signed requirement",
  body: z.object({ requirements: z.array(z.string()).max(10_000), ttlSeconds: Ttl }),
  bodyExample: '{"requirements":["numpy==2.1.0","mlenv+wheel://default/my_pkg-1.0-py3-none-any.whl"]}',
  responses: { 200: z.object({ requirements: z.array(z.string()) }) },
});

export const getWheel = wheel.get(reader, "One wheel with its revisions");

export const downloadWheel = reader.get("/api/v1/wheels/{filename}/download", {
  summary: "The wheel's bytes (?sha256= picks an older revision)",
  query: z.object({ sha256: z.string().optional() }),
  responses: { 200: BYTES },
});

export const yankWheel = wheel.action(writer, "yank", "Yank a wheel (PEP 592)", {
  body: z.object({ reason: z.string().max(500).optional() }),
  optionalBody: true,
  bodyExample: '{"reason":"broken build"}',
});

export const unyankWheel = wheel.action(writer, "unyank", "Undo a yank");

export const listSecrets = secret.list(admin, "List build secret names (values are write-only)");

export const putSecret = secret.put(
  admin,
  "Set a build secret and where it may be sent (elsewhere it is refused)",
  {
    body: z.object({ value: z.string().min(1).max(4096), allowedHosts: AllowedHostsSchema.optional() }),
    bodyExample: '{"value":"<secret, 1-4096 characters>","allowedHosts":["pypi.corp.example"]}',
  },
);

export const deleteSecret = secret.delete(admin, "Delete a build secret");

const INDEX = { contentType: "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html" };

/** A page of the index, served at `{path}/`, and the redirect (301, no token) from `{path}` to it. */
function indexPage<const P extends string>(path: P, page: { name: string; summary: string }) {
  return [
    noToken.get(path, {
      summary: `Redirects (301) to the ${page.name} with its trailing slash`,
      responses: { 301: null },
    }),
    reader.get(`${path}/`, { summary: page.summary, responses: { 200: INDEX } }),
  ] as const;
}

export const [indexRootRedirect, indexRoot] = indexPage("/pypi/{workspace}/simple", {
  name: "index root",
  summary: "PEP 503/691 index root (token by HTTP Basic auth, any user name)",
});

export const [indexProjectRedirect, indexProject] = indexPage("/pypi/{workspace}/simple/{project}", {
  name: "project page",
  summary: "PEP 503/691 project page",
});

export const indexFile = reader.get("/pypi/{workspace}/files/{sha256}/{filename}", {
  summary: "A wheel file (or its .metadata) from the index",
  responses: { 200: BYTES },
});

export const signedWheel = noToken.get("/pypi/{workspace}/signed/{sha256}/{filename}", {
  summary: "A wheel by signed URL (no token; ?expires=&sig=)",
  query: z.object({
    expires: z.string().optional().describe("required: from the signed URL"),
    sig: z.string().optional().describe("required: from the signed URL"),
  }),
  responses: { 200: BYTES },
});

const LEGACY_UPLOAD = {
  summary:
    "Upload a wheel with the PyPI legacy upload API (twine, uv publish, poetry, flit): a multipart form with :action=file_upload, the metadata fields and the file as `content`; token by HTTP Basic auth (user __token__). Same validation and answers as PUT /upload/v1/wheels/{filename}; sdists are refused",
  rawBody: { contentType: "multipart/form-data" },
  responses: { 200: WheelUploadSchema, 201: WheelUploadSchema },
} as const;

export const legacyUpload = writer.post("/pypi/{workspace}/legacy/", LEGACY_UPLOAD);

export const legacyUploadNoSlash = writer.post("/pypi/{workspace}/legacy", {
  ...LEGACY_UPLOAD,
  summary:
    "The legacy upload API without the trailing slash (answered the same, never redirected: twine refuses redirects)",
});
