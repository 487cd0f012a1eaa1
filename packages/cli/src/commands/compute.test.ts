import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { skipWithout, venvMissing } from "@mlenv/test-utils";
import { beforeAll, describe, expect, it } from "vitest";
import { useCliServer } from "../e2e/cliServer";
import { datastoreArgument } from "./compute";

describe("datastore arguments of run submit", () => {
  it("turns ds://NAME[@VERSION]/MODE into a datastore argument and leaves other arguments alone", () => {
    expect(datastoreArgument("ds://images/mount")).toEqual({ datastore: "images", mode: "mount" });
    expect(datastoreArgument("ds://images@3/download")).toEqual({
      datastore: "images",
      mode: "download",
      version: 3,
    });
    expect(datastoreArgument("--lr")).toBe("--lr");
    expect(datastoreArgument("s3://bucket/x")).toBe("s3://bucket/x");
    expect(() => datastoreArgument("ds://images/copy")).toThrow(/ds:\/\/images\/mount/);
    expect(() => datastoreArgument("ds://Images;rm/mount")).toThrow(/datastore argument/);
  });
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))("mlenv compute and mlenv datastore", () => {
  const cli = useCliServer("mlenv-cli-compute-");
  const t = cli.dir;
  beforeAll(() => {
    mkdirSync(join(t.path, "src"));
    mkdirSync(join(t.path, "data", "sub"), { recursive: true });
    writeFileSync(join(t.path, "data", "a.txt"), "alpha\n");
    writeFileSync(join(t.path, "data", "sub", "b.txt"), "beta\n");
    writeFileSync(
      join(t.path, "src", "read.py"),
      "import os, sys\nprint('read', open(os.path.join(sys.argv[1], 'sub', 'b.txt')).read().strip(), sys.argv[2])\n",
    );
  });
  const mlenv = (...argv: string[]) => cli.run(argv);
  /** `mlenv run submit` of src/read.py with more arguments. */
  const submitRead = (...more: string[]) =>
    mlenv("run", "submit", "--source-dir", "src", "--script", "read.py", ...more);
  const attachSlurm = (restUrl: string, partition: string) =>
    mlenv(
      "compute",
      "attach",
      "slurm",
      "--name",
      "gpu-cluster",
      "--rest-url",
      restUrl,
      "--shared-dir",
      t.path,
      "--partition",
      partition,
    );

  it("lists the built-in targets and refuses a cluster that does not answer, naming the setting", async () => {
    const list = await mlenv("compute", "list", "--json");
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).items.map((x: { name: string }) => x.name)).toEqual(["local", "docker"]);
    const bad = await attachSlurm(`unix:${join(t.path, "no.sock")}`, "gpu");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("restUrl");
    expect(bad.stderr).toContain("does not answer");
    const meta = await attachSlurm("unix:/tmp/x.sock", "gpu;reboot");
    expect(meta.code).not.toBe(0);
    expect(meta.stderr).toContain("partition");
    expect((await mlenv("compute", "show", "local")).stdout).toContain("kind: local (built in)");
    const unknown = await submitRead("--target", "gpu-cluster");
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain("compute target");
  });

  it("creates a blob datastore, uploads a folder as version 1 and a local run downloads it", async () => {
    expect((await mlenv("datastore", "create", "corpus", "--blob")).code).toBe(0);
    const up = await mlenv("datastore", "upload", "corpus", "data");
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain("Uploaded corpus version 1 (2 files");
    expect((await mlenv("datastore", "upload", "corpus", "data")).stdout).toContain(
      "Unchanged: corpus version 1",
    );
    const run = await submitRead("--wait", "--", "ds://corpus/download", "plain");
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("read beta plain");
    expect(run.stdout).toMatch(/\[mlenv\] input corpus \(download, version 1\)/);
  }, 120_000);
});
