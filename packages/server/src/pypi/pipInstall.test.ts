import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWheel, makeTempDir, makeVenv, skipWithout, venvMissing } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";

describe.skipIf(skipWithout("python3-venv", venvMissing()))("real pip installs private wheels", () => {
  let srv: WheelTestServer;
  let tmp: { path: string; cleanup: () => void };

  async function put(w: { filename: string; bytes: Uint8Array }) {
    const res = await fetch(`${srv.url}/upload/v1/wheels/${w.filename}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${srv.token}` },
      body: w.bytes as Uint8Array<ArrayBuffer>,
    });
    expect(res.status).toBe(201);
  }

  beforeAll(async () => {
    srv = await startWheelTestServer();
    tmp = makeTempDir("mlenv-pip-");
    await put(buildWheel({ name: "mlpriv-core", version: "1.0" }));
    await put(
      buildWheel({
        name: "mlpriv-app",
        version: "1.0",
        requiresDist: ["mlpriv-core>=1.0"],
        requiresPython: ">=3.7",
      }),
    );
    // 2.0 is yanked and 3.0 needs a Python that does not exist: pip must pick 1.0.
    await put(buildWheel({ name: "mlpriv-app", version: "2.0", requiresDist: ["mlpriv-core>=1.0"] }));
    await put(buildWheel({ name: "mlpriv-app", version: "3.0", requiresPython: ">=4" }));
    const y = await fetch(`${srv.url}/api/v1/wheels/mlpriv_app-2.0-py3-none-any.whl/yank`, {
      method: "POST",
      headers: { authorization: `Bearer ${srv.token}`, "content-type": "application/json" },
      body: JSON.stringify({ reason: "broken" }),
    });
    expect(y.status).toBe(200);
  });
  afterAll(async () => {
    await srv?.close();
    tmp?.cleanup();
  });

  it("installs from the index with the token as basic auth, honouring yanking, requires-python and PEP 658", async () => {
    const venv = await makeVenv(join(tmp.path, "venv-index"));
    const indexUrl = `${srv.url.replace("http://", `http://__token__:${srv.readerToken}@`)}/pypi/default/simple/`;
    const pip = await venv.pip(["install", "--index-url", indexUrl, "mlpriv-app"]);
    expect(pip.code, pip.out).toBe(0);
    const py = await venv.python(
      "import mlpriv_app, mlpriv_core; print(mlpriv_app.VALUE, '|', mlpriv_core.VALUE)",
    );
    expect(py.out.trim()).toBe("mlpriv-app 1.0 | mlpriv-core 1.0");
    // pip read the index and the PEP 658 metadata files, and never the yanked or incompatible wheels.
    expect(srv.paths).toContain("/pypi/default/simple/mlpriv-app/");
    expect(srv.paths).toContain("/pypi/default/simple/mlpriv-core/");
    // pip >= 23.2 reads PEP 714's `core-metadata`; older pips (Debian bookworm ships 23.0.1) ignore
    // it by design (PEP 714 renamed the key because they crash on the dict form) and fetch the wheel.
    const pipVersion = /pip (\d+)\.(\d+)/.exec((await venv.pip(["--version"])).out);
    const readsCoreMetadata =
      pipVersion !== null &&
      (Number(pipVersion[1]) > 23 || (Number(pipVersion[1]) === 23 && Number(pipVersion[2]) >= 2));
    const fetched = readsCoreMetadata
      ? "mlpriv_app-1.0-py3-none-any.whl.metadata"
      : "mlpriv_app-1.0-py3-none-any.whl";
    expect(srv.paths.some((p) => p.endsWith(fetched))).toBe(true);
    expect(
      srv.paths.some(
        (p) => p.startsWith("/pypi/") && (p.includes("mlpriv_app-2.0") || p.includes("mlpriv_app-3.0")),
      ),
    ).toBe(false);
  });

  it("installs a wheel from the signed URL the reference resolves to, with no token and no index", async () => {
    const res = await fetch(`${srv.url}/api/v1/wheels/resolve`, {
      method: "POST",
      headers: { authorization: `Bearer ${srv.readerToken}`, "content-type": "application/json" },
      body: JSON.stringify({ reference: "mlenv+wheel://default/mlpriv_core-1.0-py3-none-any.whl" }),
    });
    const { requirement } = (await res.json()) as { requirement: string };
    const venv = await makeVenv(join(tmp.path, "venv-signed"));
    const req = join(tmp.path, "requirements.txt");
    writeFileSync(req, `${requirement}\n`);
    const pip = await venv.pip(["install", "--no-index", "--require-hashes", "--no-deps", "-r", req]);
    expect(pip.code, pip.out).toBe(0);
    const py = await venv.python("import mlpriv_core; print(mlpriv_core.VALUE)");
    expect(py.out.trim()).toBe("mlpriv-core 1.0");
  });
});
