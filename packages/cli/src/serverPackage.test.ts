import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { CliError } from "./context";
import { loadServer, SERVER_MISSING, type ServerPackage } from "./serverPackage";

describe("loadServer", () => {
  // A module outside the workspace: Node finds no @mlenv/server from there, as for a client-only install.
  const dir = makeTempDir("mlenv-no-server-");
  afterAll(() => dir.cleanup());
  const probe = (body: string) => {
    const file = join(dir.path, `probe-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, body);
    return () => import(pathToFileURL(file).href) as Promise<ServerPackage>;
  };

  it("says to install @mlenv/server when it is not installed", async () => {
    const e = await loadServer(probe('export * from "@mlenv/server";\n')).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe("E_SERVER_MISSING");
    expect((e as CliError).message).toBe(SERVER_MISSING);
    expect(SERVER_MISSING).toContain("install @mlenv/server");
  });

  it("passes on other failures, a missing package the server itself imports included", async () => {
    const e = await loadServer(probe('export * from "@mlenv/server-dependency";\n')).catch((x: unknown) => x);
    expect((e as { code?: string }).code).toBe("ERR_MODULE_NOT_FOUND");
  });

  it("loads the server where it is installed", async () => {
    const server = await loadServer();
    expect(typeof server.startServer).toBe("function");
  });
});
