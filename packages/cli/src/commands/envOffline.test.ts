import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

const t = makeTempDir();
afterAll(() => t.cleanup());
const cwd = t.path;
const run = (...argv: string[]) => runInProcess(argv, { cwd, env: {} });

describe("mlenv env (offline)", () => {
  it("scaffold writes the folder layout, and refuses to overwrite without --overwrite", async () => {
    const r = await run("env", "scaffold", "-n", "demo", "-d", "demo");
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout).toBe("Scaffolded demo in demo (azureml_environment.json, conda_dependencies.yml)\n");
    const json = JSON.parse(readFileSync(join(cwd, "demo", "azureml_environment.json"), "utf8"));
    expect(json.name).toBe("demo");
    expect(json.python.condaDependencies).toBeNull();
    expect(readFileSync(join(cwd, "demo", "conda_dependencies.yml"), "utf8")).toContain("python=");
    const again = await run("env", "scaffold", "-n", "demo", "-d", "demo");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: Expected an empty or new directory at demo; .* \[E_IO\]\n$/);
  });

  it("validate accepts the scaffold and reports warnings on stderr", async () => {
    await run("env", "scaffold", "-n", "valid", "-d", "valid");
    const r = await run("env", "validate", "-d", "valid");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^valid: valid \(valid, \d+ warnings?\)\n$/);
  });

  it("validate exits 1 with file:line lines for a located error", async () => {
    mkdirSync(join(cwd, "broken"));
    writeFileSync(
      join(cwd, "broken", "azureml_environment.json"),
      '{\n  "name": "broken",\n  "docker": {"enabled": "yes"}\n}\n',
    );
    const r = await run("env", "validate", "-d", "broken");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^broken\/azureml_environment\.json:3: /m);
  });

  it("validate exits 1 for hostile input and two pythons, naming conda_dependencies.yml lines", async () => {
    await run("env", "scaffold", "-n", "hostile", "-d", "hostile");
    writeFileSync(
      join(cwd, "hostile", "conda_dependencies.yml"),
      'channels:\n  - conda-forge\ndependencies:\n  - python=3.10\n  - python=3.11\n  - pip\n  - pip:\n    - "numpy`id`"\n',
    );
    const r = await run("env", "validate", "-d", "hostile");
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.some((l) => l.startsWith("hostile/conda_dependencies.yml:8: error"))).toBe(true);
    expect(
      lines.some((l) => /^hostile\/conda_dependencies\.yml:\d+: error/.test(l) && /python/i.test(l)),
    ).toBe(true);
  });

  it("validate -d accepts a single conda .yml and a requirements .txt", async () => {
    writeFileSync(
      join(cwd, "environment.yml"),
      "name: x\ndependencies:\n  - python=3.11\n  - numpy=1.26.4\n",
    );
    writeFileSync(join(cwd, "requirements.txt"), "numpy==1.26.4\nrequests>=2\n");
    expect((await run("env", "validate", "-d", "environment.yml")).code).toBe(0);
    expect((await run("env", "validate", "-d", "requirements.txt")).code).toBe(0);
  });

  it("hash prints definitionHash and imageKey; the same definition as YAML and JSON hashes equal", async () => {
    writeFileSync(
      join(cwd, "a.yml"),
      "name: h\npython:\n  condaDependencies:\n    dependencies: [python=3.11, numpy]\n",
    );
    writeFileSync(
      join(cwd, "a.json"),
      JSON.stringify({
        python: { condaDependencies: { dependencies: ["numpy", "python=3.11"] } },
        name: "h",
      }),
    );
    const y = await run("env", "hash", "-d", "a.yml", "--json");
    const j = await run("env", "hash", "-d", "a.json", "--json");
    expect(y.code).toBe(0);
    const hy = JSON.parse(y.stdout);
    expect(hy.definitionHash).toMatch(/^mlenv1-sha256:[0-9a-f]{64}$/);
    expect(JSON.parse(j.stdout)).toEqual(hy);
    const text = await run("env", "hash", "-d", "a.yml");
    expect(text.stdout).toBe(`definitionHash  ${hy.definitionHash}\nimageKey        ${hy.imageKey}\n`);
  });

  it("render writes conda, pip and json", async () => {
    writeFileSync(
      join(cwd, "r.yml"),
      "name: r\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - numpy==1.26.4\n    - pandas\n",
    );
    const pip = await run("env", "render", "-d", "r.yml", "--format", "pip");
    expect(pip).toMatchObject({ code: 0, stdout: "numpy==1.26.4\npandas\n" });
    const conda = await run("env", "render", "-d", "r.yml", "--format", "conda");
    expect(conda.stdout).toContain("- numpy==1.26.4");
    const json = await run("env", "render", "-d", "r.yml", "--format", "json");
    expect(JSON.parse(json.stdout).name).toBe("r");
    const bad = await run("env", "render", "-d", "r.yml", "--format", "toml");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("toml");
  });

  it("a missing path fails with one clear line", async () => {
    const r = await run("env", "hash", "-d", "nope");
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: Expected a definition folder or a \.yml\/\.json\/\.txt file at nope/);
  });

  it("unknown commands and missing options exit non-zero; --help exits 0", async () => {
    expect((await run("env", "bogus")).code).not.toBe(0);
    expect((await run("env", "hash")).code).not.toBe(0);
    const help = await run("env", "--help");
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("scaffold");
  });
});

describe("mlenv env render --format dockerfile", () => {
  it("prints a Dockerfile labelled with the definition's hashes, and writes the build context with -o", async () => {
    writeFileSync(
      join(cwd, "d.yml"),
      "name: d\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n    - numpy==1.26.4\n",
    );
    const hash = JSON.parse((await run("env", "hash", "-d", "d.yml", "--json")).stdout);
    const r = await run("env", "render", "-d", "d.yml", "--format", "dockerfile");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^FROM /m);
    expect(r.stdout).toContain(hash.definitionHash);
    expect(r.stdout).toContain(hash.imageKey);
    const w = await run("env", "render", "-d", "d.yml", "--format", "dockerfile", "-o", "ctx");
    expect(w.code).toBe(0);
    expect(readFileSync(join(cwd, "ctx", "Dockerfile"), "utf8")).toBe(r.stdout);
    expect((await run("env", "render", "-d", "d.yml", "--format", "dockerfile", "-o", "ctx")).code).toBe(1);
  });

  it("refuses to render a hostile definition", async () => {
    writeFileSync(
      join(cwd, "evil.yml"),
      'name: evil\ndependencies:\n  - python=3.11\n  - "numpy$(reboot)"\n',
    );
    const r = await run("env", "render", "-d", "evil.yml", "--format", "dockerfile");
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: .*\[E_RENDER_REFUSED\]\n$/);
  });
});

describe("MLENV_DEBUG", () => {
  it("adds the stack after the one-line error only when set", async () => {
    const quiet = await runInProcess(["env", "hash", "-d", "nope"], { cwd, env: {} });
    expect(quiet.stderr.trim().split("\n")).toHaveLength(1);
    const loud = await runInProcess(["env", "hash", "-d", "nope"], { cwd, env: { MLENV_DEBUG: "1" } });
    expect(loud.stderr.split("\n")[0]).toBe(quiet.stderr.trim());
    expect(loud.stderr).toMatch(/\n\s+at /);
  });
});
