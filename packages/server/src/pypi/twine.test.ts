import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildWheel,
  makeTempDir,
  makeVenv,
  type PipRun,
  runWithPipEnv,
  skipWithout,
  twineMissing,
  venvMissing,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";

/** Run Debian's real twine with no user config, no keyring and no prompts. */
function twine(args: string[], home: string): Promise<PipRun> {
  const env = {
    HOME: home,
    PYTHON_KEYRING_BACKEND: "keyring.backends.null.Keyring",
    TWINE_NON_INTERACTIVE: "1",
    NO_COLOR: "1",
    // rich wraps at 80 columns otherwise
    COLUMNS: "1000",
  };
  return runWithPipEnv("twine", args, { env, timeoutMs: 60_000 });
}

describe.skipIf(skipWithout("twine", twineMissing()))("the legacy upload API with the real twine", () => {
  let srv: WheelTestServer;
  const tmp = makeTempDir("mlenv-twine-");
  const home = join(tmp.path, "home");
  const dist = join(tmp.path, "dist");
  const other = join(tmp.path, "other");
  const wheel = buildWheel({ name: "mlpub-pkg", version: "1.0", summary: "published with twine" });
  // the same file name with different bytes
  const changed = buildWheel({
    name: "mlpub-pkg",
    version: "1.0",
    files: { "mlpub_pkg/__init__.py": "X = 2\n" },
  });
  let repository = "";

  /** `twine upload` of `files` to the workspace's legacy URL, configured by a .pypirc. */
  function upload(files: string[], token: string, extra: string[] = []) {
    writeFileSync(
      join(home, ".pypirc"),
      `[distutils]\nindex-servers = mlenv\n\n[mlenv]\nrepository = ${repository}\nusername = __token__\npassword = ${token}\n`,
    );
    return twine(
      [
        "--no-color",
        "upload",
        "--repository",
        "mlenv",
        "--disable-progress-bar",
        "--non-interactive",
        ...extra,
        ...files,
      ],
      home,
    );
  }

  beforeAll(async () => {
    srv = await startWheelTestServer();
    repository = `${srv.url}/pypi/default/legacy/`;
    for (const d of [home, dist, other]) mkdirSync(d, { recursive: true });
    writeFileSync(join(dist, wheel.filename), wheel.bytes);
    writeFileSync(join(other, changed.filename), changed.bytes);
    // a real sdist: <name>-<version>/PKG-INFO in a gzipped tar (what twine reads its metadata from)
    const src = join(tmp.path, "src", "mlpub-pkg-1.0");
    mkdirSync(src, { recursive: true });
    writeFileSync(
      join(src, "PKG-INFO"),
      "Metadata-Version: 2.1\nName: mlpub-pkg\nVersion: 1.0\nSummary: sdist\n\n",
    );
    writeFileSync(join(src, "setup.py"), "from setuptools import setup\nsetup()\n");
    const tar = spawnSync("tar", [
      "czf",
      join(dist, "mlpub-pkg-1.0.tar.gz"),
      "-C",
      join(tmp.path, "src"),
      "mlpub-pkg-1.0",
    ]);
    expect(tar.status).toBe(0);
  });
  afterAll(async () => {
    await srv?.close();
    tmp.cleanup();
  });

  it("uploads a wheel, and accepts the same bytes again", async () => {
    const first = await upload([join(dist, wheel.filename)], srv.token);
    expect(first.code, first.out).toBe(0);
    const stored = await srv.catalog.get(srv.workspaceId, wheel.filename);
    expect(stored?.sha256).toBe(wheel.sha256);
    expect(stored?.summary).toBe("published with twine");
    expect(stored?.uploadedBy).toBe("writer");
    const again = await upload([join(dist, wheel.filename)], srv.token);
    expect(again.code, again.out).toBe(0);
    expect((await srv.catalog.revisions(srv.workspaceId, wheel.filename)).length).toBe(1);
  });

  it("refuses different bytes under a stored name with our upload's 409 and message", async () => {
    const res = await upload([join(other, changed.filename)], srv.token);
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("409 Conflict");
    expect(res.out).toContain(`already holds different bytes (sha256 ${wheel.sha256})`);
    expect((await srv.catalog.get(srv.workspaceId, wheel.filename))?.sha256).toBe(wheel.sha256);
    // the raw upload answers the very same
    const put = await fetch(`${srv.url}/upload/v1/wheels/${changed.filename}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${srv.token}` },
      body: changed.bytes,
    });
    expect(put.status).toBe(409);
    expect(((await put.json()) as { code: string }).code).toBe("E_WHEEL_EXISTS");
    // --skip-existing treats the 409 as "already there", as with PyPI
    const skip = await upload([join(other, changed.filename)], srv.token, ["--skip-existing"]);
    expect(skip.code, skip.out).toBe(0);
    expect(skip.out).toMatch(/Skipping mlpub_pkg-1\.0-py3-none-any\.whl because it appears to already exist/);
  });

  it("refuses an sdist with a message twine prints", async () => {
    const res = await upload([join(dist, "mlpub-pkg-1.0.tar.gz")], srv.token);
    expect(res.code).not.toBe(0);
    expect(res.out).toContain("400 Bad Request");
    expect(res.out).toContain("this index keeps wheels only");
    expect(res.out).toContain("mlpub-pkg-1.0.tar.gz");
  });

  it("refuses a wrong token and a reader token", async () => {
    const wrong = await upload([join(dist, wheel.filename)], `mlenv_${"x".repeat(43)}`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.out).toContain("401 Unauthorized");
    expect(wrong.out).toContain("The token is unknown or revoked");
    const reader = await upload([join(dist, wheel.filename)], srv.readerToken);
    expect(reader.code).not.toBe(0);
    expect(reader.out).toContain("403 Forbidden");
    expect(reader.out).toContain("This needs a writer token");
  });

  it("refuses a form whose digest does not match its bytes", async () => {
    const form = new FormData();
    form.set(":action", "file_upload");
    form.set("protocol_version", "1");
    form.set("name", "mlpub-pkg");
    form.set("version", "2.0");
    form.set("filetype", "bdist_wheel");
    form.set("sha256_digest", "0".repeat(64));
    const w2 = buildWheel({ name: "mlpub-pkg", version: "2.0" });
    form.set("content", new Blob([w2.bytes]), w2.filename);
    const res = await fetch(`${srv.url}/pypi/default/legacy`, {
      method: "POST",
      headers: { authorization: `Basic ${Buffer.from(`__token__:${srv.token}`).toString("base64")}` },
      body: form,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe("E_WHEEL_DIGEST_MISMATCH");
    expect(await srv.catalog.get(srv.workspaceId, w2.filename)).toBeNull();
  });

  it.skipIf(skipWithout("python3-venv", venvMissing()))(
    "pip installs the published wheel from the workspace index",
    async () => {
      const venv = await makeVenv(join(tmp.path, "venv"));
      const index = `${srv.url.replace("http://", `http://__token__:${srv.readerToken}@`)}/pypi/default/simple/`;
      const pip = await venv.pip(["install", "--index-url", index, "mlpub-pkg"]);
      expect(pip.code, pip.out).toBe(0);
      const py = await venv.python("import mlpub_pkg; print(mlpub_pkg.VALUE)");
      expect(py.out.trim()).toBe("mlpub-pkg 1.0");
    },
    120_000,
  );
});
