import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildWheel, makeTempDir, makeVenv, skipWithout, venvMissing } from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWheelTestServer, type WheelTestServer } from "../../test/wheelTestServer";
import { isWheelError } from "../wheels/errors";
import { referencedSecrets, secretEnvironment } from "../wheels/resolve";

/** `${MLENV_SECRET_<name>}` as written in a pip block. */
const ref = (name: string) => `$\{MLENV_SECRET_${name}}`;

describe("upstream index credentials as workspace secrets", () => {
  it("finds the secret names a pip block references", () => {
    expect(
      referencedSecrets([
        `--extra-index-url https://ci:${ref("CORP_PASS")}@corp.example/simple/`,
        `--index-url https://${ref("USER")}:${ref("CORP_PASS")}@x/simple/`,
        "numpy==2.1.0",
        `$${"{HOME}"}`,
      ]),
    ).toEqual(["CORP_PASS", "USER"]);
  });
});

describe.skipIf(skipWithout("python3-venv", venvMissing()))(
  "real pip against an index that needs credentials",
  () => {
    let srv: WheelTestServer;
    let tmp: { path: string; cleanup: () => void };
    beforeAll(async () => {
      srv = await startWheelTestServer();
      tmp = makeTempDir("mlenv-creds-");
      const w = buildWheel({ name: "credpkg", version: "1.0" });
      const up = await fetch(`${srv.url}/upload/v1/wheels/${w.filename}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${srv.token}` },
        body: w.bytes,
      });
      expect(up.status).toBe(201);
    });
    afterAll(async () => {
      await srv?.close();
      tmp?.cleanup();
    });

    it("pip gets the credential only through its environment; the requirements file and pip's output never hold it", async () => {
      // The "upstream" index is this server's own (it refuses requests without a token).
      const secret = srv.readerToken;
      const put = await fetch(`${srv.url}/api/v1/secrets/UPSTREAM_TOKEN`, {
        method: "PUT",
        headers: { authorization: `Bearer ${srv.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ value: secret, allowedHosts: [new URL(srv.url).host] }),
      });
      expect(put.status).toBe(200);
      const lines = [
        `--index-url ${srv.url.replace("http://", `http://__token__:${ref("UPSTREAM_TOKEN")}@`)}/pypi/default/simple/`,
        "credpkg==1.0",
      ];
      const file = join(tmp.path, "requirements.txt");
      writeFileSync(file, `${lines.join("\n")}\n`);
      const env = await secretEnvironment(lines, { catalog: srv.catalog, workspaceId: srv.workspaceId });
      expect(Object.keys(env)).toEqual(["MLENV_SECRET_UPSTREAM_TOKEN"]);

      const venv = await makeVenv(join(tmp.path, "venv"));
      // Without the secret pip is refused by the index...
      const denied = await venv.pip(["install", "-r", file]);
      expect(denied.code).not.toBe(0);
      // ...with it, it installs.
      const pip = await venv.pip(["install", "-v", "-r", file], env);
      expect(pip.code, pip.out).toBe(0);
      const py = await venv.python("import credpkg; print(credpkg.VALUE)");
      expect(py.out.trim()).toBe("credpkg 1.0");

      expect(readFileSync(file, "utf8")).not.toContain(secret);
      expect(pip.out).not.toContain(secret);
      expect(denied.out).not.toContain(secret);
    });

    it("a reference to a missing secret is a clear error that names it", async () => {
      try {
        await secretEnvironment([`--extra-index-url https://u:${ref("NOPE")}@x/simple/`], {
          catalog: srv.catalog,
          workspaceId: srv.workspaceId,
        });
        expect.unreachable();
      } catch (e) {
        expect(isWheelError(e, "E_WHEEL_SECRET_NOT_FOUND")).toBe(true);
        expect((e as Error).message).toContain("NOPE");
      }
    });
  },
);
