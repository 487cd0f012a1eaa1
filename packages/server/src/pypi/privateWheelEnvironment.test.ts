import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  buildWheel,
  makeTempDir,
  makeVenv,
  type PostgresHandle,
  postgresMissing,
  skipWithout,
  startPostgres,
  startTestServer,
  type TestServer,
  venvMissing,
} from "@mlenv/test-utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pipDefinition } from "../../test/helpers";
import { startServer } from "../server";

const pgMissing = postgresMissing();

function suite(label: string, opts: { skip: boolean; withPostgres: boolean }) {
  describe.skipIf(opts.skip)(`private wheel in an environment, installed by real pip (${label})`, () => {
    let srv: TestServer;
    let pg: PostgresHandle | undefined;
    let tmp: { path: string; cleanup: () => void };

    const call = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${srv.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${srv.token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      // biome-ignore lint/suspicious/noExplicitAny: asserted field by field
      return { status: res.status, json: (await res.json().catch(() => null)) as any };
    };

    beforeAll(async () => {
      if (opts.withPostgres) pg = await startPostgres();
      srv = await startTestServer(startServer, pg ? { database: pg.createDatabase("wheels") } : {});
      tmp = makeTempDir("mlenv-wheel-env-");
    });
    afterAll(async () => {
      await srv?.stop();
      await pg?.stop();
      tmp?.cleanup();
    });

    it("upload → register with a reference → render → pip install --no-index → import", async () => {
      const wheel = buildWheel({ name: "acme-secret-model", version: "0.3.1", requiresPython: ">=3.8" });
      const up = await fetch(`${srv.url}/upload/v1/wheels/${wheel.filename}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${srv.token}` },
        body: wheel.bytes,
      });
      expect(up.status).toBe(201);
      const { wheel: info } = (await up.json()) as { wheel: { reference: string } };
      expect(info.reference).toBe(`mlenv+wheel://default/${wheel.filename}#sha256=${wheel.sha256}`);

      const definition = pipDefinition("uses-private-wheel", [info.reference]);
      const reg = await call("POST", "/api/v1/environments", { definition });
      expect(reg.status, JSON.stringify(reg.json)).toBe(201);
      const got = await call("GET", "/api/v1/environments/uses-private-wheel");
      // The definition and its hash carry the reference only: no token, no signature.
      const stored = JSON.stringify(got.json);
      expect(stored).toContain(info.reference);
      expect(stored).not.toContain(srv.token);
      expect(stored).not.toContain("sig=");
      const deps = got.json.definition.python.condaDependencies.dependencies as Array<
        string | { pip: string[] }
      >;
      const pipLines = deps.find((d): d is { pip: string[] } => typeof d === "object")!.pip;

      const rendered = await call("POST", "/api/v1/wheels/render", {
        requirements: pipLines,
        ttlSeconds: 300,
      });
      expect(rendered.status).toBe(200);
      const reqs = rendered.json.requirements as string[];
      expect(reqs).toHaveLength(1);
      expect(reqs[0]).toMatch(
        /^acme-secret-model @ http:\/\/127\.0\.0\.1:\d+\/pypi\/default\/signed\/[0-9a-f]{64}\/acme_secret_model-0\.3\.1-py3-none-any\.whl\?expires=\d+&sig=[A-Za-z0-9_-]{43}#sha256=[0-9a-f]{64}$/,
      );
      expect(reqs[0]).not.toContain(srv.token);

      const venv = await makeVenv(join(tmp.path, "venv"));
      const file = join(tmp.path, "requirements.txt");
      writeFileSync(file, `${reqs.join("\n")}\n`);
      // --no-index: pip may use nothing but what the rendered requirements say.
      const pip = await venv.pip(["install", "--no-index", "--require-hashes", "-r", file]);
      expect(pip.code, pip.out).toBe(0);
      const py = await venv.python("import acme_secret_model as m; print(m.VALUE)");
      expect(py.out.trim()).toBe("acme-secret-model 0.3.1");

      // The same wheel through the index, with the token as basic auth.
      const venv2 = await makeVenv(join(tmp.path, "venv-index"));
      const indexUrl = `${srv.url.replace("http://", `http://__token__:${srv.token}@`)}/pypi/default/simple/`;
      const pip2 = await venv2.pip(["install", "--index-url", indexUrl, "acme-secret-model==0.3.1"]);
      expect(pip2.code, pip2.out).toBe(0);
      expect(pip2.out).not.toContain(srv.token);

      expect(JSON.stringify(srv.logs)).not.toContain(srv.token);
    }, 120_000); // two venvs and two real pip installs

    it("keeps workspace secrets write-only: listed by name, never echoed or logged", async () => {
      const value = "corp-index-password-Zq81";
      const put = await call("PUT", "/api/v1/secrets/CORP_PYPI_PASSWORD", { value });
      expect(put.status).toBe(200);
      expect(JSON.stringify(put.json)).not.toContain(value);
      const list = await call("GET", "/api/v1/secrets");
      expect(list.json.items.map((s: { name: string }) => s.name)).toEqual(["CORP_PYPI_PASSWORD"]);
      expect(JSON.stringify(list.json)).not.toContain(value);
      const bad = await call("PUT", "/api/v1/secrets/bad name", { value });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json)).not.toContain(value);
      expect((await call("DELETE", "/api/v1/secrets/CORP_PYPI_PASSWORD")).status).toBe(204);
      expect((await call("DELETE", "/api/v1/secrets/CORP_PYPI_PASSWORD")).status).toBe(404);
      expect(JSON.stringify(srv.logs)).not.toContain(value);
    });
  });
}

const venv = venvMissing();
suite("SQLite", { skip: skipWithout("python3-venv", venv), withPostgres: false });
suite("PostgreSQL", {
  skip: skipWithout("python3-venv", venv) || skipWithout("postgres", pgMissing),
  withPostgres: true,
});
