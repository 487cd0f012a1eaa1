import { z } from "zod";
import { ErrorSchema } from "./common";
import type { RouteDeclaration } from "./route";

const ERROR_STATUSES: Record<number, string> = {
  400: "Bad input",
  401: "Missing or unknown token",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Body too large",
};

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    target: "draft-2020-12",
  });
  return rest;
}

function isZod(x: unknown): x is z.ZodType {
  return x instanceof z.ZodType;
}

/** An OpenAPI 3.1 document of the given route declarations. */
export function openApiDocument(
  routes: readonly RouteDeclaration[],
  info: { version: string },
): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const params = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
      name: m[1],
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    if (r.query) {
      const q = jsonSchema(r.query, "input") as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, schema] of Object.entries(q.properties ?? {})) {
        params.push({ name, in: "query", required: (q.required ?? []).includes(name), schema } as never);
      }
    }
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(r.responses)) {
      responses[status] = isZod(schema)
        ? { description: "OK", content: { "application/json": { schema: jsonSchema(schema, "output") } } }
        : schema
          ? { description: "OK", content: { [schema.contentType]: {} } }
          : { description: Number(status) === 301 ? "Moved permanently" : "No content" };
    }
    const errors = r.role ? [400, 401, 403, 404, 409, 413] : [];
    for (const s of errors) {
      responses[String(s)] = {
        description: ERROR_STATUSES[s],
        content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
      };
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      ...(r.role ? { security: [{ bearer: [] }], "x-mlenv-role": r.role } : { security: [] }),
      ...(params.length ? { parameters: params } : {}),
      responses,
    };
    if (r.rawBody && r.rawBody.contentType !== "application/json") {
      op.requestBody = { required: true, content: { [r.rawBody.contentType]: {} } };
    } else if (r.body) {
      op.requestBody = {
        required: !r.optionalBody,
        content: { "application/json": { schema: jsonSchema(r.body, "input") } },
      };
    }
    paths[r.path] ??= {};
    paths[r.path]![r.method] = op;
  }
  return {
    openapi: "3.1.0",
    info: { title: "mlenv registry", version: info.version },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { Error: jsonSchema(ErrorSchema, "output") },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
