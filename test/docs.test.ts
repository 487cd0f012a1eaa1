import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLI_DOC, cliReference, contractOpenApi, HTTP_DOC, httpReference } from "../scripts/genDocs";

// The generated references must match the code: run `pnpm docs:gen` after changing a command or a route.
describe("generated docs are in sync", () => {
  it("docs/cli.md matches the commander program", () => {
    const text = cliReference();
    expect(text).toContain("## `mlenv env register`");
    expect(readFileSync(CLI_DOC, "utf8")).toBe(text);
  });

  it("docs/http-api.md matches the route declarations (the server's /openapi.json)", () => {
    const doc = contractOpenApi();
    const text = httpReference(doc);
    expect(text).toContain("## `POST /api/v1/environments`");
    // Every documented operation appears, so a new route makes the file stale.
    const ops = Object.values(doc.paths).flatMap((p) => Object.keys(p)).length;
    expect(text.match(/^## `(GET|POST|PUT|DELETE) /gm)?.length).toBe(ops);
    expect(readFileSync(HTTP_DOC, "utf8")).toBe(text);
  });

  it("a changed route or command makes the comparison fail", () => {
    const doc = { paths: { "/x": { get: { summary: "one", responses: {} } } } };
    const before = httpReference(doc);
    doc.paths["/x"].get.summary = "two";
    expect(httpReference(doc)).not.toBe(before);
  });
});
