import { z } from "zod";

/** Shapes shared by several features' routes. */

export const RoleSchema = z.enum(["reader", "writer", "admin"]);

export const ErrorSchema = z
  .object({
    code: z.string().describe("Stable error code, e.g. E_NOT_FOUND"),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: "Error" });

/** Text that may reach the database (PostgreSQL text refuses NUL; names never need it). */
export const NulFree = z.string().refine((s) => !s.includes("\u0000"), "must not contain NUL");

/** Versions are 32-bit in the database: larger numbers are bad input, not a server error. */
export const MAX_INT = 2_147_483_647;

/** The most GPUs one run or service may ask for. */
export const MAX_GPUS = 64;

/** A positive integer sent as text (a path segment or query value). */
export const PositiveIntText = z
  .string()
  .regex(/^[1-9][0-9]{0,9}$/, "expected a positive integer, e.g. 3")
  .transform(Number)
  .pipe(z.number().max(MAX_INT, "expected at most 2147483647"));

/** Files of a source snapshot, a model or a datastore version (content base64). */
export const FilesSchema = z
  .array(z.object({ path: NulFree, content: z.string(), executable: z.boolean().optional() }))
  .max(20_000);

export const ArtifactSchema = z.object({ path: z.string(), digest: z.string(), size: z.number().int() });

/** A run's or a service's failure. */
export const RunErrorSchema = z.object({ code: z.string(), message: z.string() }).nullable();

export const LogLineSchema = z.object({
  seq: z.number().int(),
  stream: z.enum(["stdout", "stderr", "system"]),
  text: z.string(),
});

export const LogsSchema = z.object({
  items: z.array(LogLineSchema),
  status: z.string(),
  next: z.number().int().describe("pass as ?after= to get the lines after these"),
});

export const AfterQuerySchema = z.object({
  after: z.string().optional().describe("last seq seen (0 = from the start)"),
});

/** A log route's query: JSON pages after ?after=, or with ?follow=1 (or Accept: text/event-stream) server-sent events. */
export const LogsQuerySchema = AfterQuerySchema.extend({
  follow: z
    .string()
    .optional()
    .describe(
      "1 or true: server-sent events (as Accept: text/event-stream); Last-Event-ID or ?after= resumes",
    ),
});

/** A list answer: `{ items: [...] }`. */
export function itemsOf<const S extends z.ZodType>(item: S) {
  return z.object({ items: z.array(item) });
}

/** A route answering raw bytes. */
export const BYTES = { contentType: "application/octet-stream" } as const;

export const HealthSchema = z.object({
  status: z.enum(["ok", "unavailable"]),
  store: z.enum(["sqlite", "postgres"]),
});

export type Artifact = z.output<typeof ArtifactSchema>;
export type LogLine = z.output<typeof LogLineSchema>;
export type Logs = z.output<typeof LogsSchema>;
