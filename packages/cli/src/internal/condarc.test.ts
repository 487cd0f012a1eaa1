import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { CONDA_DEFAULT_CHANNELS, condarcSearchPath, readCondaChannelConfig } from "./condarc";

const t = makeTempDir("mlenv-condarc-");
afterAll(() => t.cleanup());
let n = 0;
/** A fresh home folder with the given files (path relative to it → text). */
function home(files: Record<string, string>): string {
  const dir = join(t.path, `home${n++}`);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

describe("the conda channel configuration", () => {
  it("without any file: channels [defaults], conda's default_channels", () => {
    expect(readCondaChannelConfig({ HOME: home({}) })).toEqual({
      channels: ["defaults"],
      defaultChannels: CONDA_DEFAULT_CHANNELS,
      sources: [],
    });
  });

  it("searches conda's path in conda's order, $CONDARC last", () => {
    const env = { HOME: "/h", XDG_CONFIG_HOME: "/x", CONDA_PREFIX: "/p", CONDARC: "/c/rc.yml" };
    const path = condarcSearchPath(env);
    const at = (p: string) => path.indexOf(p);
    expect(at("/etc/conda/.condarc")).toBe(0);
    expect(at("/x/conda/.condarc")).toBeLessThan(at("/h/.config/conda/.condarc"));
    expect(at("/h/.config/conda/.condarc")).toBeLessThan(at("/h/.conda/.condarc"));
    expect(at("/h/.conda/.condarc")).toBeLessThan(at("/h/.condarc"));
    expect(at("/h/.condarc")).toBeLessThan(at("/p/.condarc"));
    expect(path.at(-1)).toBe("/c/rc.yml");
  });

  it("merges lists as conda does: the higher-precedence file's entries first, no duplicates", () => {
    const h = home({
      ".config/conda/.condarc": "channels: [bioconda, conda-forge]\n",
      ".condarc": "channels:\n  - conda-forge\n  - https://example.invalid/mine\n",
      "prefix/condarc.d/10-channels.yml": "default_channels: [http://127.0.0.1:9/internal]\n",
    });
    const rc = join(t.path, `rc${n}.yml`);
    writeFileSync(rc, "channels: [defaults]\n");
    const c = readCondaChannelConfig({ HOME: h, CONDA_PREFIX: join(h, "prefix"), CONDARC: rc });
    expect(c.channels).toEqual(["defaults", "conda-forge", "https://example.invalid/mine", "bioconda"]);
    expect(c.defaultChannels).toEqual(["http://127.0.0.1:9/internal"]);
    expect(c.sources).toEqual([
      rc,
      join(h, "prefix", "condarc.d", "10-channels.yml"),
      join(h, ".condarc"),
      join(h, ".config", "conda", ".condarc"),
    ]);
  });

  it("CONDA_CHANNELS comes before every file; an explicit empty list stays empty", () => {
    const h = home({ ".condarc": "channels: []\ndefault_channels: []\n" });
    expect(readCondaChannelConfig({ HOME: h }).channels).toEqual([]);
    expect(readCondaChannelConfig({ HOME: h, CONDA_CHANNELS: "a, b" }).channels).toEqual(["a", "b"]);
  });

  it("bad files are refused with the file (and line) named", () => {
    const broken = home({ ".condarc": "channels:\n  - a\n b: [\n" });
    expect(() => readCondaChannelConfig({ HOME: broken })).toThrowError(
      expect.objectContaining({
        code: "E_CONFIG",
        message: expect.stringMatching(/\.condarc to be YAML conda configuration \(line \d+\)/),
      }),
    );
    const wrong = home({ ".condarc": "channels: conda-forge\n" });
    expect(() => readCondaChannelConfig({ HOME: wrong })).toThrowError(
      expect.objectContaining({ code: "E_CONFIG", message: expect.stringContaining("Expected channels in") }),
    );
  });
});
