import { readFileSync } from "node:fs";
import { makeTempDir } from "@mlenv/test-utils";
import { describe, expect, it } from "vitest";
import { writeWebUiAssets } from "./buildAssets";
import { bundleWebUi } from "./bundle";
import { loadWebUi } from "./index";

describe("web UI assets", () => {
  it("writes the bundle a built package serves to <dist>/ui/app.js", async () => {
    const dir = makeTempDir("mlenv-ui-dist-");
    try {
      const file = await writeWebUiAssets(`${dir.path}/`);
      expect(file).toBe(`${dir.path}/ui/app.js`);
      const js = readFileSync(file, "utf8");
      expect(js).toBe(await bundleWebUi());
      expect(js).toContain("mlenv.token"); // the session key of the app
      expect(js).not.toMatch(/from\s*["']node:/);
    } finally {
      dir.cleanup();
    }
  });

  it("loads the page, the stylesheet and the app from source", async () => {
    const ui = await loadWebUi();
    expect(ui.html).toContain('<script type="module" src="/ui/app.js"></script>');
    expect(ui.css).toContain("@media (max-width: 480px)");
    expect(ui.js).toContain("mlenv1-sha256"); // core's hashing came along
  });
});
