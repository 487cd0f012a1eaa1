/**
 * The reference workflow end to end against a REAL server over real HTTP, on SQLite and on a real
 * PostgreSQL: scaffold → edit → register (v1) → re-register unchanged (still v1) → change a pin →
 * register (v2) → list → show v1 → diff v1 v2 → download → the downloaded folder hashes to the
 * registered definitionHash. Once through the CLI (output snapshotted with placeholders) and once
 * through the SDK.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Environment, Workspace } from "@mlenv/sdk";
import { loadFromDirectory, saveToDirectory } from "@mlenv/sdk/node";
import { startServer } from "@mlenv/server";
import { describeOnEachDatabase, useTempDir, useTestServer } from "@mlenv/test-utils/fixtures";
import { expect, it } from "vitest";
import { runInProcess } from "../internal/runInProcess";

/** Replace what changes between runs (hashes, times, ports, temp paths) with placeholders. */
function placeholders(text: string, tmp: string, url: string): string {
  const hashes = new Map<string, string>();
  return text
    .replaceAll(tmp, "<TMP>")
    .replaceAll(url, "<URL>")
    .replace(/mlenv1-sha256:[0-9a-f]{64}/g, (h) => {
      if (!hashes.has(h)) hashes.set(h, `<HASH${hashes.size + 1}>`);
      return hashes.get(h)!;
    })
    .replace(/sha256:[0-9a-f]{64}/g, "sha256:<BLOB>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<TIME>")
    .replace(/python=\d+\.\d+/g, "python=<PY>")
    .replace(/pip=\d+(\.\d+)*/g, "pip=<PIP>");
}

describeOnEachDatabase("reference workflow", "reference_workflow", ({ database }) => {
  const server = useTestServer(startServer, { database });
  const tmp = useTempDir("mlenv-e2e-");

  it("through the CLI", async () => {
    const env = {
      MLENV_URL: server.url,
      MLENV_TOKEN: server.token,
      MLENV_CONFIG: join(tmp.path, "config.json"),
    };
    const transcript: string[] = [];
    const mlenv = async (...argv: string[]) => {
      const r = await runInProcess(argv, { cwd: tmp.path, env });
      // --json answers are checked field by field below; the snapshot keeps the human output.
      if (!argv.includes("--json")) {
        transcript.push(`$ mlenv ${argv.join(" ")}`);
        if (r.stdout) transcript.push(r.stdout.trimEnd());
        if (r.stderr) transcript.push(`stderr: ${r.stderr.trimEnd()}`);
        transcript.push(`[exit ${r.code}]`);
      }
      return r;
    };
    const ok = async (...argv: string[]) => {
      const r = await mlenv(...argv);
      expect(r.code, `${argv.join(" ")}: ${r.stderr}`).toBe(0);
      return r;
    };

    await ok("env", "scaffold", "-n", "wf", "-d", "wf");
    const condaFile = join(tmp.path, "wf", "conda_dependencies.yml");
    const scaffolded = readFileSync(condaFile, "utf8");
    expect(scaffolded).toMatch(/- pip: \[\]|- pip:\n/);
    // The user edits the conda document: pin numpy and add pandas.
    const edited = scaffolded.replace(
      /- pip:.*(\n\s+- .*)*/,
      "- pip:\n      - numpy==1.26.4\n      - pandas==2.2.2",
    );
    writeFileSync(condaFile, edited);
    await ok("env", "validate", "-d", "wf");

    expect((await ok("env", "register", "-d", "wf")).stdout).toMatch(/^Registered wf version 1 /);
    const v1 = JSON.parse((await ok("env", "show", "-n", "wf", "--json")).stdout);
    expect(v1).toMatchObject({ name: "wf", version: 1 });
    expect((await ok("env", "register", "-d", "wf")).stdout).toMatch(/^Unchanged: wf version 1 /);
    const again = JSON.parse((await ok("env", "register", "-d", "wf", "--json")).stdout);
    expect(again).toMatchObject({ created: false, environment: { version: 1 } });
    expect(again.environment.definitionHash).toBe(v1.definitionHash);

    writeFileSync(condaFile, edited.replace("numpy==1.26.4", "numpy==2.0.0"));
    await ok("env", "register", "-d", "wf");
    const v2 = JSON.parse((await ok("env", "show", "-n", "wf", "--json")).stdout);
    expect(v2.version).toBe(2);
    expect(v2.definitionHash).not.toBe(v1.definitionHash);

    const list = await ok("env", "list");
    expect(list.stdout).toMatch(/^wf\s+2\s+2\s/m);
    expect(list.stdout).toMatch(/^mlenv-minimal\s/m);
    await ok("env", "show", "-n", "wf", "-v", "1");
    const diff = await ok("env", "diff", "-n", "wf", "-v", "1", "-v", "2");
    expect(diff.stdout).toContain("numpy");
    expect(diff.stdout).toContain("2.0.0");

    await ok("env", "download", "-n", "wf", "-v", "2", "-d", "downloaded");
    const hashed = JSON.parse((await ok("env", "hash", "-d", "downloaded", "--json")).stdout);
    expect(hashed.definitionHash).toBe(v2.definitionHash);
    await ok("env", "diff", "wf", "downloaded");

    const refused = await mlenv("env", "download", "-n", "wf", "-v", "1", "-d", "downloaded");
    expect(refused.code).toBe(1);
    await ok("env", "download", "-n", "wf", "-v", "1", "-d", "downloaded", "--overwrite");
    const hashed1 = JSON.parse((await ok("env", "hash", "-d", "downloaded", "--json")).stdout);
    expect(hashed1.definitionHash).toBe(v1.definitionHash);

    await expect(placeholders(transcript.join("\n"), tmp.path, server.url)).toMatchFileSnapshot(
      "__snapshots__/referenceWorkflow.cli.txt",
    );
  });

  it("through the SDK", async () => {
    const ws = new Workspace({ url: server.url, token: server.token });
    const dir = join(tmp.path, "sdk-wf");
    // scaffold → edit
    const scaffold = new Environment("sdk-wf");
    saveToDirectory(scaffold, dir);
    const local = loadFromDirectory(dir);
    local.python.condaDependencies.addPipPackage("numpy==1.26.4").addPipPackage("pandas==2.2.2");
    local.environmentVariables.OMP_NUM_THREADS = "1";

    const v1 = await local.register(ws);
    expect(v1.registration).toMatchObject({ name: "sdk-wf", version: 1, created: true });
    expect(v1.registration?.definitionHash).toBe(local.definitionHash);
    const same = await local.register(ws);
    expect(same.registration).toMatchObject({ version: 1, created: false });

    local.python.condaDependencies.addPipPackage("numpy==2.0.0");
    const v2 = await local.register(ws);
    expect(v2.registration).toMatchObject({ version: 2, created: true });

    const list = await Environment.list(ws);
    expect(list.find((e) => e.name === "sdk-wf")).toMatchObject({ version: 2, versionCount: 2 });
    expect(list.some((e) => e.name === "mlenv-tutorial" && e.curated)).toBe(true);

    const shown = await Environment.get(ws, "sdk-wf", { version: 1 });
    expect(shown.python.condaDependencies.pipPackages).toContain("numpy==1.26.4");
    expect(shown.environmentVariables).toEqual({ OMP_NUM_THREADS: "1" });

    const diff = await ws.environments.diff("sdk-wf", 1, 2);
    expect(diff).toMatchObject({ from: 1, to: 2 });
    expect(JSON.stringify(diff.changes)).toContain("2.0.0");

    const latest = await Environment.get(ws, "sdk-wf");
    const out = join(tmp.path, "sdk-downloaded");
    saveToDirectory(latest, out);
    expect(loadFromDirectory(out).definitionHash).toBe(v2.registration?.definitionHash);
  });
});
