/**
 * Installing the client compiles nothing native: the packed @mlenv/cli names @mlenv/server only as
 * an optional peer, so its install closure (followed through the packed manifests of our packages
 * and pnpm-lock.yaml for the rest) holds no storage driver, no bundler and no UI framework.
 */
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { installClosure, packedManifest, packPackage } from "../scripts/checkPackages";

describe("the packed @mlenv/cli", () => {
  const dir = makeTempDir("mlenv-cli-closure-");
  afterAll(() => dir.cleanup());

  it("names @mlenv/server as an optional peer dependency only", { timeout: 60_000 }, () => {
    const manifest = packedManifest(packPackage("cli", dir.path));
    expect(manifest.dependencies?.["@mlenv/server"]).toBeUndefined();
    expect(manifest.optionalDependencies?.["@mlenv/server"]).toBeUndefined();
    expect(manifest.peerDependencies?.["@mlenv/server"]).toMatch(/^\^\d/);
    expect(manifest.peerDependenciesMeta?.["@mlenv/server"]).toEqual({ optional: true });
    expect(manifest.dependencies?.yaml).toMatch(/^\^\d/); // catalog: ranges are written out
  });

  it("installs no better-sqlite3, pg, esbuild or preact", { timeout: 300_000 }, () => {
    const closure = installClosure("cli", dir.path);
    expect(closure).toContain("@mlenv/core"); // the walk reached our packages ...
    expect(closure).toContain("commander"); // ... and third-party ones
    const unwanted = ["@mlenv/server", "@mlenv/web-ui", "better-sqlite3", "pg", "esbuild", "preact"];
    expect(unwanted.filter((n) => closure.has(n))).toEqual([]);
    // the server's closure does hold its driver: the walk would see one
    expect(installClosure("server", dir.path)).toContain("better-sqlite3");
  });
});
