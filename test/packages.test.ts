/**
 * [slow] The packed packages as a consumer gets them: build, `pnpm pack`, `npm install` of the
 * tarballs into a scratch project (no workspace links, no `@mlenv/source` condition), then
 * import every public entry point in Node, run the installed `mlenv` bin, and bundle core and
 * sdk from the installed tarballs for the browser and evaluate them in Chromium.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { chromiumMissing, evaluateInChromium, makeTempDir, skipWithout } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAndPack, PUBLISHED } from "../scripts/checkPackages";

const ENTRY_POINTS = [
  "@mlenv/api",
  "@mlenv/core",
  "@mlenv/resolver",
  "@mlenv/conda-installer",
  "@mlenv/sdk",
  "@mlenv/sdk/node",
  "@mlenv/cli",
  "@mlenv/server",
  "@mlenv/web-ui",
] as const;

function node(cwd: string, args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("[slow] packed tarballs installed with npm", () => {
  const dir = makeTempDir("mlenv-packages-");
  const project = join(dir.path, "consumer");

  beforeAll(() => {
    const tarballs = buildAndPack(join(dir.path, "tarballs"));
    const deps = Object.fromEntries(PUBLISHED.map((p) => [`@mlenv/${p}`, `file:${tarballs[p]}`]));
    // Dependencies between our packages resolve to the tarballs too, never to a registry.
    const overrides = Object.fromEntries(PUBLISHED.map((p) => [`@mlenv/${p}`, `$@mlenv/${p}`]));
    spawnSync("mkdir", ["-p", project]);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: deps, overrides }),
    );
    const npm = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts"], {
      cwd: project,
      encoding: "utf8",
      timeout: 540_000,
    });
    if (npm.status !== 0) throw new Error(`npm install failed:\n${npm.stdout}\n${npm.stderr}`);
  }, 900_000);
  afterAll(() => dir.cleanup());

  it("imports every public entry point in Node, with named exports", () => {
    writeFileSync(
      join(project, "imports.mjs"),
      `const out = {};
for (const spec of ${JSON.stringify(ENTRY_POINTS)}) out[spec] = Object.keys(await import(spec)).sort();
console.log(JSON.stringify(out));`,
    );
    const r = node(project, ["imports.mjs"]);
    expect(r.stderr).toBe("");
    const keys = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(keys["@mlenv/core"]).toEqual(
      expect.arrayContaining(["definitionHash", "imageKey", "parseDefinition"]),
    );
    expect(keys["@mlenv/sdk"]).toEqual(expect.arrayContaining(["Environment", "Workspace", "WheelsClient"]));
    expect(keys["@mlenv/sdk/node"]?.length).toBeGreaterThan(0);
    expect(keys["@mlenv/resolver"]?.length).toBeGreaterThan(0);
    expect(keys["@mlenv/conda-installer"]).toEqual(
      expect.arrayContaining(["installLock", "currentPlatform"]),
    );
    expect(keys["@mlenv/cli"]?.length).toBeGreaterThan(0);
    expect(keys["@mlenv/server"]).toEqual(expect.arrayContaining(["startServer", "createApp"]));
    for (const k of Object.values(keys)) expect(k).not.toContain("default");
  });

  it("runs the installed mlenv bin: scaffold, then hash the same as the installed core", () => {
    const bin = join(project, "node_modules", "@mlenv", "cli", "bin", "mlenv.js");
    expect(node(project, [bin, "env", "scaffold", "-n", "train", "-d", "train"]).status).toBe(0);
    const hashed = node(project, [bin, "env", "hash", "-d", "train", "--json"]);
    expect(hashed.status).toBe(0);
    const fromCli = JSON.parse(hashed.stdout) as { definitionHash: string };
    writeFileSync(
      join(project, "hash.mjs"),
      `import { createDefinition, definitionHash } from "@mlenv/core";
console.log(definitionHash(createDefinition("train")));`,
    );
    expect(node(project, ["hash.mjs"]).stdout.trim()).toBe(fromCli.definitionHash);
  });

  describe.skipIf(skipWithout("chromium", chromiumMissing))(
    "browser bundles of the installed core and sdk",
    () => {
      it("evaluate in Chromium and hash as Node does", async () => {
        const nodeHash = node(project, [
          "--input-type=module",
          "-e",
          `import { createDefinition, definitionHash } from "@mlenv/core";
console.log(definitionHash(createDefinition("browser-env")));`,
        ]).stdout.trim();
        expect(nodeHash).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
        const run = await evaluateInChromium<{ core: string; sdk: string; workspace: string }>({
          contents: `import { createDefinition, definitionHash } from "@mlenv/core";
import { Environment, Workspace } from "@mlenv/sdk";
export const core = definitionHash(createDefinition("browser-env"));
export const sdk = definitionHash(new Environment("browser-env").toDefinition());
export const workspace = new Workspace({ url: "http://127.0.0.1:9/" }).url;`,
          resolveDir: project,
          // A consumer's bundler: no @mlenv/source condition (src/ is not in the tarballs).
          conditions: ["browser", "import", "default"],
          expression: "({ core: __bundle.core, sdk: __bundle.sdk, workspace: __bundle.workspace })",
        });
        expect(run.value).toEqual({ core: nodeHash, sdk: nodeHash, workspace: "http://127.0.0.1:9" });
      });
    },
  );
});
