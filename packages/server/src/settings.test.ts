import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { loadServerSettings, SERVER_SETTING_FIELDS, serverOptionsFromSettings } from "./settings";

const t = makeTempDir("mlenv-settings-");
afterAll(() => t.cleanup());

describe("loadServerSettings", () => {
  it("applies flags > environment > config file > defaults", () => {
    const file = join(t.path, "server.yaml");
    writeFileSync(
      file,
      [
        "port: 9000",
        "host: 0.0.0.0",
        "logLevel: debug",
        "baseImageCpu: file/cpu:1",
        "baseImageGpu: file/gpu:1",
        "condaExecutable: none",
        "buildConcurrency: 3",
      ].join("\n"),
    );
    const s = loadServerSettings({
      configFile: file,
      cwd: t.path,
      env: { MLENV_PORT: "9100", MLENV_BASE_IMAGE_CPU: "env/cpu:1", MLENV_LOG_LEVEL: "" },
      flags: { port: "9200", logLevel: undefined },
    });
    expect(s).toMatchObject({
      port: 9200,
      host: "0.0.0.0",
      logLevel: "debug",
      baseImageCpu: "env/cpu:1",
      baseImageGpu: "file/gpu:1",
      condaExecutable: null,
      buildConcurrency: 3,
      dataDir: join(t.path, ".mlenv-data"),
      localTarget: "confined",
      configFile: file,
    });
    const defaults = loadServerSettings({ cwd: t.path });
    expect(defaults).toMatchObject({ port: 8080, host: "127.0.0.1", logLevel: "info" });
    expect(defaults.baseImageCpu).toBeUndefined();
  });

  it("reads JSON files named by MLENV_SERVER_CONFIG and hands the values to startServer's options", () => {
    const file = join(t.path, "server.json");
    writeFileSync(
      file,
      JSON.stringify({
        $schema: "ignored",
        dataDir: "data",
        registry: "127.0.0.1:5000",
        registryUsername: "ci",
        registryPassword: "pw",
        buildTimeoutSeconds: 60,
        maxWheelBytes: 300,
        serviceHeartbeatMs: 200,
        bwrap: "off",
      }),
    );
    const s = loadServerSettings({ cwd: t.path, env: { MLENV_SERVER_CONFIG: "server.json" } });
    expect(s.dataDir).toBe(join(t.path, "data"));
    expect(serverOptionsFromSettings(s)).toMatchObject({
      dataDir: join(t.path, "data"),
      builds: {
        registry: { address: "127.0.0.1:5000", auth: { username: "ci", password: "pw" } },
        timeoutMs: 60_000,
      },
      wheels: { maxWheelBytes: 300 },
      runs: { serviceHeartbeatMs: 200, bwrap: null },
      localTarget: "confined",
    });
  });

  it("names the flag, variable, or file and field of a bad value, and never echoes a secret", () => {
    expect(() => loadServerSettings({ env: { MLENV_PORT: "80a" } })).toThrow(
      "Expected MLENV_PORT to be a port 0-65535, e.g. 8080; received 80a",
    );
    expect(() => loadServerSettings({ flags: { logLevel: "loud" } })).toThrow(
      "Expected --log-level to be one of error, warn, info, debug (e.g. info); received loud",
    );
    const bad = join(t.path, "bad.yaml");
    writeFileSync(bad, "buildConcurrency: zero\n");
    expect(() => loadServerSettings({ configFile: bad })).toThrow(
      `Expected field buildConcurrency of config file ${bad} to be a positive whole number, e.g. 2; received zero`,
    );
    writeFileSync(bad, "prot: 80\n");
    expect(() => loadServerSettings({ configFile: bad })).toThrow(
      /config file .*bad\.yaml.*unknown field "prot"/,
    );
    expect(() => loadServerSettings({ configFile: join(t.path, "missing.yaml") })).toThrow(
      /missing\.yaml to be readable; received ENOENT/,
    );
    let message = "";
    try {
      loadServerSettings({ env: { MLENV_BOOTSTRAP_TOKEN: "mlenv_secret-but-short" } });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("MLENV_BOOTSTRAP_TOKEN");
    expect(message).not.toContain("secret-but-short");
    expect(() => loadServerSettings({ flags: { databaseUrl: "mysql://root:hunter2@db/x" } })).toThrow(
      "Expected --database to be a PostgreSQL URL such as postgres://user@127.0.0.1:5432/mlenv; received mysql://***@db/x",
    );
  });

  it("accepts the old MLENV_DATABASE with a deprecation warning; MLENV_DATABASE_URL wins", () => {
    const warnings: string[] = [];
    const old = loadServerSettings({
      env: { MLENV_DATABASE: "postgres://u@127.0.0.1:5432/a" },
      warn: (m) => warnings.push(m),
    });
    expect(old.databaseUrl).toBe("postgres://u@127.0.0.1:5432/a");
    expect(warnings).toEqual(["MLENV_DATABASE is deprecated: name the database with MLENV_DATABASE_URL"]);
    const both = loadServerSettings({
      env: {
        MLENV_DATABASE: "postgres://u@127.0.0.1:5432/a",
        MLENV_DATABASE_URL: "postgres://u@127.0.0.1:5432/b",
      },
    });
    expect(both.databaseUrl).toBe("postgres://u@127.0.0.1:5432/b");
  });
});

describe("docs/server.md", () => {
  it("lists every setting with its flag and environment variable", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "server.md"), "utf8");
    for (const [name, field] of Object.entries(SERVER_SETTING_FIELDS)) {
      const f = field as { flag?: string; env?: string };
      const row = `| \`${name}\` | ${f.flag ? `\`${f.flag}\`` : ""} | ${f.env ? `\`${f.env}\`` : ""} |`;
      expect(doc, name).toContain(row);
    }
  });
});
