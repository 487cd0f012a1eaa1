import { join } from "node:path";
import { bundleForBrowser, chromiumMissing, evaluateInChromium, skipWithout } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { Environment } from "./index";

const entry = join(import.meta.dirname, "index.ts");

/** The same script, run in Node and in the page: build, edit and hash an environment. */
function scenario(sdk: { Environment: typeof Environment }) {
  const env = sdk.Environment.fromPipRequirements("browser-env", "numpy==1.26.4\npandas>=2\n");
  env.python.condaDependencies.addPipPackage("Pandas==2.2.2").addChannel("pytorch").setPythonVersion("3.10");
  env.environmentVariables.MODE = "serve";
  return {
    definitionHash: env.definitionHash,
    imageKey: env.imageKey,
    pip: env.python.condaDependencies.pipPackages,
    yaml: env.python.condaDependencies.serialize(),
  };
}

describe("@mlenv/sdk main entry is browser-safe", () => {
  it("bundles for the browser platform with no Node built-ins", async () => {
    const code = await bundleForBrowser({ entry });
    expect(code).not.toMatch(/require\(["']node:|from ["']node:/);
  });

  describe.skipIf(skipWithout("chromium", chromiumMissing))("in headless Chromium", () => {
    it("builds, edits and hashes an environment exactly as Node does", async () => {
      const node = scenario({ Environment });
      const page = await evaluateInChromium<ReturnType<typeof scenario>>({
        entry,
        globalName: "sdk",
        expression: `(${scenario.toString()})(globalThis.sdk)`,
      });
      expect(page.value).toEqual(node);
      expect(page.userAgent).toMatch(/HeadlessChrome|Chrome/);
    }, 60_000);
  });
});
