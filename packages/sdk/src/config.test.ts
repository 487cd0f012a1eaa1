import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { configPath, readConfig, workspaceFromConfig, writeConfig } from "./config";

const t = makeTempDir();
afterAll(() => t.cleanup());

describe("config file", () => {
  it("is found under $MLENV_CONFIG, else XDG_CONFIG_HOME, else ~/.config", () => {
    expect(configPath({ MLENV_CONFIG: "/x/c.json" })).toBe("/x/c.json");
    expect(configPath({ XDG_CONFIG_HOME: "/xdg" })).toBe("/xdg/mlenv/config.json");
    expect(configPath({ HOME: "/home/u" })).toBe("/home/u/.config/mlenv/config.json");
  });

  it("is written with mode 0600 in a 0700 directory and read back", () => {
    const file = join(t.path, "sub", "config.json");
    writeConfig(file, { url: "http://127.0.0.1:1", token: "secret" });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(t.path, "sub")).mode & 0o777).toBe(0o700);
    expect(readConfig(file)).toEqual({ url: "http://127.0.0.1:1", token: "secret" });
    expect(readConfig(join(t.path, "absent.json"))).toEqual({});
  });

  it("rejects a corrupt file with E_CONFIG naming the file", () => {
    const file = join(t.path, "bad.json");
    writeFileSync(file, "[1,2");
    expect(() => readConfig(file)).toThrow(expect.objectContaining({ code: "E_CONFIG" }));
  });

  it("explicit options win over MLENV_URL/MLENV_TOKEN, which win over the file", () => {
    const file = join(t.path, "c.json");
    writeConfig(file, { url: "http://127.0.0.1:1", token: "file-token" });
    expect(workspaceFromConfig({ env: {}, configFile: file }).token).toBe("file-token");
    const fromEnv = workspaceFromConfig({
      env: { MLENV_URL: "http://127.0.0.1:2", MLENV_TOKEN: "env-token" },
      configFile: file,
    });
    expect([fromEnv.url, fromEnv.token]).toEqual(["http://127.0.0.1:2", "env-token"]);
    const explicit = workspaceFromConfig({
      url: "http://127.0.0.1:3",
      token: "t",
      env: {},
      configFile: file,
    });
    expect([explicit.url, explicit.token]).toEqual(["http://127.0.0.1:3", "t"]);
  });

  it("never sends the file's token to a different server", () => {
    const file = join(t.path, "c2.json");
    writeConfig(file, { url: "http://127.0.0.1:1", token: "file-token" });
    expect(
      workspaceFromConfig({ env: { MLENV_URL: "http://127.0.0.1:9" }, configFile: file }).token,
    ).toBeUndefined();
  });

  it("without any URL fails with E_CONFIG telling how to log in", () => {
    expect(() => workspaceFromConfig({ env: {}, configFile: join(t.path, "none.json") })).toThrow(
      /mlenv login/,
    );
  });
});
