import { z } from "zod";
import { itemsOf, MAX_INT, PositiveIntText, RoleSchema } from "./common";
import { resource } from "./resource";
import { admin, reader, writer } from "./route";

/** The environment registry: workspaces, tokens, environments, versions, labels. */

export const WhoamiSchema = z.object({
  workspace: z.string(),
  role: RoleSchema,
  tokenId: z.string(),
  tokenName: z.string(),
});

export const CreateWorkspaceSchema = z.strictObject({ name: z.string() });
export const WorkspaceCreatedSchema = z.object({
  workspace: z.object({ name: z.string(), createdAt: z.string() }),
  adminToken: z.string(),
});

export const TokenSchema = z
  .object({ id: z.string(), name: z.string(), role: RoleSchema, createdAt: z.string() })
  .meta({ id: "Token" });
export const TokenListSchema = itemsOf(TokenSchema);
export const CreateTokenSchema = z.strictObject({
  name: z.string().min(1).max(100),
  role: RoleSchema,
});
export const TokenCreatedSchema = TokenSchema.extend({
  token: z.string().describe("The plaintext token; shown only once"),
});

export const DefinitionSchema = z
  .record(z.string(), z.unknown())
  .describe("An environment definition (see @mlenv/core schema.json)");

export const LockDocumentSchema = z
  .record(z.string(), z.unknown())
  .describe("An mlenv.lock document (see @mlenv/core lock.schema.json)")
  .meta({ id: "Lock" });

export const RegisterSchema = z.strictObject({
  definition: DefinitionSchema,
  lock: z
    .union([LockDocumentSchema, z.string()])
    .optional()
    .describe(
      "The definition's mlenv.lock, as JSON or YAML text; its definitionHash must be the definition's (else E_LOCK_MISMATCH)",
    ),
});

const versionFields = {
  name: z.string(),
  version: z.number().int().min(1),
  definitionHash: z.string(),
  definitionBlob: z.string(),
  description: z.string().nullable(),
  tags: z.record(z.string(), z.string()),
  labels: z.array(z.string()),
  curated: z.boolean(),
  archived: z.boolean(),
  createdAt: z.string(),
  createdBy: z.string(),
  imageKey: z
    .string()
    .nullable()
    .describe(
      "Over the lock's exact artifacts when locked, else the loose definition; null before locks existed",
    ),
  locked: z.boolean(),
};

export const EnvironmentVersionSchema = z
  .object({ ...versionFields, definition: DefinitionSchema })
  .meta({ id: "EnvironmentVersion" });
export const VersionSummarySchema = z.object(versionFields).meta({ id: "VersionSummary" });
export const EnvironmentSummarySchema = z
  .object({ ...versionFields, versionCount: z.number().int() })
  .meta({ id: "EnvironmentSummary" });

export const RegisteredSchema = z.object({ created: z.boolean(), environment: EnvironmentVersionSchema });

export const ListQuerySchema = z.strictObject({
  prefix: z.string().max(255).optional(),
  tag: z.string().max(255).optional(),
  limit: PositiveIntText.pipe(z.number().max(500)).optional(),
  cursor: z.string().max(400).optional(),
  archived: z.enum(["false", "true", "only"]).optional(),
});
export const EnvironmentListSchema = z.object({
  items: z.array(EnvironmentSummarySchema),
  nextCursor: z.string().nullable(),
});

export const GetQuerySchema = z.strictObject({
  version: PositiveIntText.optional(),
  label: z.string().optional(),
});
export const HistorySchema = z.object({
  name: z.string(),
  archived: z.boolean(),
  items: z.array(VersionSummarySchema),
});
export const DiffQuerySchema = z.strictObject({ from: PositiveIntText, to: PositiveIntText });
export const DiffSchema = z.object({
  name: z.string(),
  from: z.number(),
  to: z.number(),
  fromHash: z.string(),
  toHash: z.string(),
  changes: z.unknown().describe("@mlenv/core diffDefinitions output"),
});

export const LabelSchema = z.object({ label: z.string(), version: z.number(), updatedAt: z.string() });
export const LabelListSchema = itemsOf(LabelSchema);
export const SetLabelSchema = z.strictObject({ version: z.number().int().min(1).max(MAX_INT) });

export const CloneSchema = z.strictObject({
  newName: z.string(),
  version: z.number().int().min(1).max(MAX_INT).optional(),
  label: z.string().optional(),
});

export type Whoami = z.output<typeof WhoamiSchema>;
export type WorkspaceCreated = z.output<typeof WorkspaceCreatedSchema>;
export type Token = z.output<typeof TokenSchema>;
export type TokenCreated = z.output<typeof TokenCreatedSchema>;
export type EnvironmentVersion = z.output<typeof EnvironmentVersionSchema>;
export type VersionSummary = z.output<typeof VersionSummarySchema>;
export type EnvironmentSummary = z.output<typeof EnvironmentSummarySchema>;
export type Registered = z.output<typeof RegisteredSchema>;
export type EnvironmentList = z.output<typeof EnvironmentListSchema>;
export type History = z.output<typeof HistorySchema>;
export type Diff = z.output<typeof DiffSchema>;
export type Label = z.output<typeof LabelSchema>;
/** A register request as a client sends it. */
export type RegisterInput = z.input<typeof RegisterSchema>;

export const whoami = reader.get("/api/v1/whoami", {
  summary: "The workspace and role of the calling token",
  responses: { 200: WhoamiSchema },
});

export const createWorkspace = admin.post("/api/v1/workspaces", {
  summary:
    "Create a workspace and its first admin token (server admins only: admin tokens of the default workspace; others get 403)",
  body: CreateWorkspaceSchema,
  bodyExample: '{"name":"team-a"}',
  responses: { 201: WorkspaceCreatedSchema },
});

const token = resource("/api/v1/tokens/{id}", TokenSchema);
const environment = resource(
  "/api/v1/environments/{name}",
  EnvironmentSummarySchema,
  EnvironmentVersionSchema,
);
const version = resource(
  "/api/v1/environments/{name}/versions/{version}",
  VersionSummarySchema,
  EnvironmentVersionSchema,
);
const label = resource("/api/v1/environments/{name}/labels/{label}", LabelSchema);

export const listTokens = token.list(admin, "List the workspace's live tokens");

export const createToken = admin.post("/api/v1/tokens", {
  summary: "Create a token (the plaintext is returned once)",
  body: CreateTokenSchema,
  bodyExample: '{"name":"ci","role":"writer"}',
  responses: { 201: TokenCreatedSchema },
});

export const revokeToken = token.delete(admin, "Revoke a token");

export const registerEnvironment = writer.post("/api/v1/environments", {
  summary: "Register a definition (new hash: next version; same hash: the existing version)",
  body: RegisterSchema,
  bodyExample: '{"definition":{"name":"my-env"}}',
  responses: { 200: RegisteredSchema, 201: RegisteredSchema },
});

export const listEnvironments = reader.get("/api/v1/environments", {
  summary: "List the latest version of each environment",
  query: ListQuerySchema,
  responses: { 200: EnvironmentListSchema },
});

export const getEnvironment = environment.get(reader, "Get the latest version, or ?version=N, or ?label=L", {
  query: GetQuerySchema,
});

export const environmentHistory = reader.get("/api/v1/environments/{name}/versions", {
  summary: "Version history (oldest first, without definitions)",
  responses: { 200: HistorySchema },
});

export const getEnvironmentVersion = version.get(reader, "Get one version");

export const getEnvironmentLock = reader.get("/api/v1/environments/{name}/versions/{version}/lock", {
  summary: "The lock stored with a version (404 E_NOT_FOUND when it is unlocked)",
  responses: { 200: LockDocumentSchema },
});

export const diffEnvironment = reader.get("/api/v1/environments/{name}/diff", {
  summary: "Structured diff between two versions (core's diffDefinitions)",
  query: DiffQuerySchema,
  responses: { 200: DiffSchema },
});

export const listLabels = label.list(reader, "Labels of an environment");

export const setLabel = label.put(writer, "Point a label at a version (moves it if it exists)", {
  body: SetLabelSchema,
  bodyExample: '{"version":2}',
});

export const deleteLabel = label.delete(writer, "Remove a label");

export const archiveEnvironment = environment.action(
  writer,
  "archive",
  "Archive (hidden from list, still gettable by version)",
);

export const restoreEnvironment = environment.action(writer, "restore", "Restore an archived environment");

export const cloneEnvironment = writer.post("/api/v1/environments/{name}/clone", {
  summary: "Copy a version under a new name (version 1)",
  body: CloneSchema,
  bodyExample: '{"newName":"my-env","version":1}',
  responses: { 201: RegisteredSchema },
});
