import { z } from "zod";
import { ArtifactSchema, BYTES, FilesSchema, NulFree } from "./common";
import { resource } from "./resource";
import { reader, writer } from "./route";

/** Models registered from runs' outputs or from files. */

export const RegisterModelSchema = z.object({
  name: NulFree,
  description: NulFree.max(10_000).nullable().optional(),
  runId: z.string().optional(),
  path: NulFree.optional(),
  files: FilesSchema.optional(),
});

export const ModelSchema = z.object({
  name: z.string(),
  version: z.number().int(),
  digest: z.string(),
  files: z.array(ArtifactSchema),
  runId: z.string().nullable(),
  description: z.string().nullable(),
  createdBy: z.string(),
  createdAt: z.string(),
});

export const ModelRegisteredSchema = z.object({ created: z.boolean(), model: ModelSchema });

export type Model = z.output<typeof ModelSchema>;
export type ModelRegistered = z.output<typeof ModelRegisteredSchema>;
export type RegisterModelInput = z.input<typeof RegisterModelSchema>;

export const registerModel = writer.post("/api/v1/models", {
  summary: "Register a model from a run's outputs ({runId, path}) or from files (same files: same version)",
  body: RegisterModelSchema,
  bodyExample: '{"name":"my-model","runId":"…","path":"outputs/model.json"}',
  ownBodyLimit: "snapshot",
  responses: { 200: ModelRegisteredSchema, 201: ModelRegisteredSchema },
});

const model = resource("/api/v1/models/{name}", ModelSchema);

export const listModels = model.list(reader, "List models, optionally the versions of one name", {
  query: z.object({ name: z.string().optional() }),
});

export const getModel = model.get(reader, "The latest version of a model, or ?version=N", {
  query: z.object({ version: z.string().optional() }),
});

export const downloadModelFile = reader.get("/api/v1/models/{name}/versions/{version}/files/content", {
  summary: "The bytes of one file of a model version (?path= one of its files, e.g. model.json)",
  query: z.object({ path: z.string().optional().describe("required: a path from the version's files") }),
  responses: { 200: BYTES },
});
