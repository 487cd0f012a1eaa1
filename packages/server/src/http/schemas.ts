import { z } from "zod";

/** Request and response shapes of the HTTP API: the source of the OpenAPI document. */

export const RoleSchema = z.enum(["reader", "writer", "admin"]);

export const ErrorSchema = z
  .object({
    code: z.string().describe("Stable error code, e.g. E_NOT_FOUND"),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "Error" });

export const HealthSchema = z.object({
  status: z.enum(["ok", "unavailable"]),
  store: z.enum(["sqlite", "postgres"]),
});

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
export const TokenListSchema = z.object({ items: z.array(TokenSchema) });
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

/** Versions are 32-bit in the database: larger numbers are bad input, not a server error. */
const MAX_INT = 2_147_483_647;

const positiveInt = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, "expected a positive integer, e.g. 3")
  .transform(Number)
  .pipe(z.number().max(MAX_INT, "expected at most 2147483647"));

export const ListQuerySchema = z.strictObject({
  prefix: z.string().max(255).optional(),
  tag: z.string().max(255).optional(),
  limit: positiveInt.pipe(z.number().max(500)).optional(),
  cursor: z.string().max(400).optional(),
  archived: z.enum(["false", "true", "only"]).optional(),
});
export const EnvironmentListSchema = z.object({
  items: z.array(EnvironmentSummarySchema),
  nextCursor: z.string().nullable(),
});

export const GetQuerySchema = z.strictObject({
  version: positiveInt.optional(),
  label: z.string().optional(),
});
export const HistorySchema = z.object({
  name: z.string(),
  archived: z.boolean(),
  items: z.array(VersionSummarySchema),
});
export const DiffQuerySchema = z.strictObject({ from: positiveInt, to: positiveInt });
export const DiffSchema = z.object({
  name: z.string(),
  from: z.number(),
  to: z.number(),
  fromHash: z.string(),
  toHash: z.string(),
  changes: z.unknown().describe("@mlenv/core diffDefinitions output"),
});

export const LabelSchema = z.object({ label: z.string(), version: z.number(), updatedAt: z.string() });
export const LabelListSchema = z.object({ items: z.array(LabelSchema) });
export const SetLabelSchema = z.strictObject({ version: z.number().int().min(1).max(MAX_INT) });

export const CloneSchema = z.strictObject({
  newName: z.string(),
  version: z.number().int().min(1).max(MAX_INT).optional(),
  label: z.string().optional(),
});
