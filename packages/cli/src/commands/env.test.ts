import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { expectOneLineError, useCliServer } from "../e2e/cliServer";
import { runInProcess } from "../internal/runInProcess";

const cli = useCliServer("mlenv-cli-env-");
const { server, dir: t } = cli;

const run = (...argv: string[]) => cli.run(argv);

describe("mlenv env registry commands", () => {
  it("register prints the version; --description and --tag are stored; list shows a table", async () => {
    await run("env", "scaffold", "-n", "tabled", "-d", "tabled");
    const r = await run("env", "register", "-d", "tabled", "--description", "first", "-t", "team=vision");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Registered tabled version 1 \(mlenv1-sha256:[0-9a-f]{64}\), unlocked\n$/);
    // conda-forge is unreachable here: one warning line, and the version is registered unlocked.
    expect(r.stderr.split("\n").filter((l) => l.startsWith("warning: registering unlocked"))).toHaveLength(1);
    const shown = JSON.parse((await run("env", "show", "-n", "tabled", "--json")).stdout);
    expect(shown).toMatchObject({ description: "first", tags: { team: "vision" }, version: 1 });
    const list = await run("env", "list", "--tag", "team=vision");
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+VERSION\s+VERSIONS\s+LABELS\s+CURATED\s+ARCHIVED\s+CREATED$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(["tabled"]);
    const curated = await run("env", "list", "--prefix", "mlenv-", "--json");
    expect(JSON.parse(curated.stdout).map((e: { name: string }) => e.name)).toEqual([
      "mlenv-minimal",
      "mlenv-tutorial",
    ]);
  });

  it("show prints the version's fields and its conda dependencies", async () => {
    const r = await run("env", "show", "-n", "mlenv-tutorial");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^name: +mlenv-tutorial$/m);
    expect(r.stdout).toMatch(/^curated: +yes$/m);
    expect(r.stdout).toMatch(/^dependencies:$/m);
    expect(r.stdout).toMatch(/pandas/);
  });

  it("label, versions, archive, restore and clone", async () => {
    await run("env", "scaffold", "-n", "life", "-d", "life");
    await run("env", "register", "-d", "life");
    writeFileSync(
      join(t.path, "life", "conda_dependencies.yml"),
      "dependencies:\n  - python=3.11\n  - numpy=1.26.4\n",
    );
    expect((await run("env", "register", "-d", "life")).stdout).toMatch(/^Registered life version 2 /);
    expect((await run("env", "label", "-n", "life", "-l", "production", "-v", "1")).stdout).toBe(
      "Label production of life now points at version 1\n",
    );
    const byLabel = JSON.parse((await run("env", "show", "-n", "life", "-l", "production", "--json")).stdout);
    expect(byLabel.version).toBe(1);
    const versions = await run("env", "versions", "-n", "life");
    expect(
      versions.stdout
        .trimEnd()
        .split("\n")
        .slice(1)
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(["1", "2"]);
    expect((await run("env", "archive", "-n", "life")).stdout).toBe("Archived life\n");
    expect((await run("env", "list", "--prefix", "life")).stdout).toBe("No environments.\n");
    expect((await run("env", "list", "--prefix", "life", "--archived", "only")).stdout).toMatch(
      /^life\s+2\s/m,
    );
    expect((await run("env", "restore", "-n", "life")).stdout).toBe("Restored life\n");
    expect((await run("env", "label", "-n", "life", "-l", "production", "--delete")).code).toBe(0);
    const clone = await run("env", "clone", "-n", "mlenv-minimal", "--new-name", "my-minimal");
    expect(clone.stdout).toMatch(/^Cloned mlenv-minimal to my-minimal version 1 /);
  });

  it("download refuses a non-empty folder without --overwrite and leaves it untouched", async () => {
    mkdirSync(join(t.path, "busy"));
    writeFileSync(join(t.path, "busy", "keep.txt"), "mine");
    const r = await run("env", "download", "-n", "mlenv-minimal", "-d", "busy");
    expectOneLineError(r, "E_IO");
    expect(readdirSync(join(t.path, "busy"))).toEqual(["keep.txt"]);
    const ok = await run("env", "download", "-n", "mlenv-minimal", "-d", "fresh");
    expect(ok.stdout).toMatch(/^Downloaded mlenv-minimal version 1 to fresh \(mlenv1-sha256:/);
    expect(readdirSync(join(t.path, "fresh")).sort()).toEqual([
      "azureml_environment.json",
      "conda_dependencies.yml",
    ]);
  });

  it("errors are one clear line with the server's code", async () => {
    expectOneLineError(await run("env", "show", "-n", "nope"), "E_NOT_FOUND");
    await run("env", "scaffold", "-n", "mlenv-evil", "-d", "evil");
    // The reserved prefix is refused locally with its location (the server refuses it too: SDK tests).
    const reserved = await run("env", "register", "-d", "evil");
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toMatch(/^evil\/azureml_environment\.json:2: error .*reserved/im);
    expectOneLineError(await run("env", "show", "-n", "life", "-v", "1", "-l", "x"), "E_USAGE");
    const bad = await runInProcess(["env", "list"], {
      cwd: t.path,
      env: { ...cli.env, MLENV_TOKEN: "mlenv_bad" },
    });
    expectOneLineError(bad, "E_UNAUTHENTICATED");
    const none = await runInProcess(["env", "list"], {
      cwd: t.path,
      env: { MLENV_CONFIG: join(t.path, "x.json") },
    });
    expectOneLineError(none, "E_CONFIG");
    expect(none.stderr).toContain("mlenv login");
  });

  it("a terminal escape in a stored description is shown escaped, not interpreted", async () => {
    await run("env", "scaffold", "-n", "esc", "-d", "esc");
    await run("env", "register", "-d", "esc", "--description", "bad\u001b[31mred");
    const r = await run("env", "show", "-n", "esc");
    expect(r.stdout).not.toContain("\u001b");
    expect(r.stdout).toContain("bad\\u001b[31mred");
  });
});

describe("mlenv login / logout", () => {
  it("a wrong token is refused and nothing is saved; a right one is saved and used by later commands", async () => {
    const config = join(t.path, "login", "config.json");
    const cfgEnv = { MLENV_CONFIG: config };
    const bad = await runInProcess(["login", "--url", server.url, "--token-stdin"], {
      env: cfgEnv,
      readStdin: async () => "mlenv_not_a_real_token\n",
    });
    expectOneLineError(bad, "E_UNAUTHENTICATED");
    expect(() => readdirSync(join(t.path, "login"))).toThrow();

    const good = await runInProcess(["login", "--url", server.url], {
      env: { ...cfgEnv, MLENV_TOKEN: server.token },
    });
    expect(good.code).toBe(0);
    const list = await runInProcess(["env", "list", "--prefix", "mlenv-", "--json"], { env: cfgEnv });
    expect(JSON.parse(list.stdout)).toHaveLength(2);

    expect((await runInProcess(["logout"], { env: cfgEnv })).code).toBe(0);
    expectOneLineError(await runInProcess(["env", "list"], { env: cfgEnv }), "E_UNAUTHENTICATED");
  });

  it("login without a token says where to find one", async () => {
    const r = await runInProcess(["login", "--url", server.url], {
      env: { MLENV_CONFIG: join(t.path, "c3.json") },
    });
    expectOneLineError(r, "E_USAGE");
    expect(r.stderr).toContain("admin-token");
  });
});

describe("mlenv env register validates locally", () => {
  it("prints file:line errors and sends nothing when the definition is invalid", async () => {
    await run("env", "scaffold", "-n", "local-invalid", "-d", "local-invalid");
    writeFileSync(
      join(t.path, "local-invalid", "conda_dependencies.yml"),
      "dependencies:\n  - python=3.11\n  - python=3.10\n",
    );
    const r = await run("env", "register", "-d", "local-invalid");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^local-invalid\/conda_dependencies\.yml:\d+: error /m);
    expectOneLineError(await run("env", "show", "-n", "local-invalid"), "E_NOT_FOUND");
  });

  it("prints warnings (e.g. unpinned packages) on stderr and registers", async () => {
    writeFileSync(
      join(t.path, "unpinned.yml"),
      "name: unpinned\ndependencies:\n  - python=3.11\n  - numpy\n",
    );
    const r = await run("env", "register", "-d", "unpinned.yml");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Registered unpinned version 1 /);
    expect(r.stderr).toMatch(/^unpinned\.yml:4: warning /m);
  });
});

describe("mlenv token / workspace", () => {
  it("generate prints a token of the server's shape without contacting a server", async () => {
    const r = await runInProcess(["token", "generate"], { env: {} });
    expect(r.stdout).toMatch(/^mlenv_[A-Za-z0-9_-]{43}\n$/);
  });

  it("create prints the secret once; a reader can list but not register; revoke ends it", async () => {
    const created = JSON.parse((await run("token", "create", "-n", "ci", "-r", "reader", "--json")).stdout);
    const list = await run("token", "list");
    expect(list.stdout).toMatch(/\sci\s+reader\s/);
    expect(list.stdout).not.toContain(created.token);
    const asReader = { ...cli.env, MLENV_TOKEN: created.token };
    expect((await runInProcess(["env", "list", "--json"], { cwd: t.path, env: asReader })).code).toBe(0);
    await run("env", "scaffold", "-n", "by-reader", "-d", "by-reader");
    const denied = await runInProcess(["env", "register", "-d", "by-reader"], { cwd: t.path, env: asReader });
    expectOneLineError(denied, "E_FORBIDDEN");
    expect((await run("token", "revoke", created.id)).stdout).toBe(`Revoked token ${created.id}\n`);
    expectOneLineError(await runInProcess(["env", "list"], { env: asReader }), "E_UNAUTHENTICATED");
  });

  it("workspace create prints an admin token of a workspace that sees nothing of this one", async () => {
    const r = await run("workspace", "create", "team-b");
    expect(r.code).toBe(0);
    const [, secret] = r.stdout.trimEnd().split("\n");
    const other = { MLENV_URL: server.url, MLENV_TOKEN: secret ?? "" };
    expect(
      JSON.parse((await runInProcess(["env", "list", "--json"], { env: other })).stdout),
    ).not.toContainEqual(expect.objectContaining({ name: "tabled" }));
  });
});
