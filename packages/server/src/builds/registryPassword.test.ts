import { randomBytes } from "node:crypto";
import { makeTempDir } from "@mlenv/test-utils";
import { describeOnEachDatabase } from "@mlenv/test-utils/fixtures";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createApp } from "../app";
import { FsBlobStore } from "../blobs/blobStore";
import { openStore } from "../server";
import type { Store } from "../store/types";

const definition = (password: string | null) => ({
  name: "private-base",
  docker: {
    baseImage: "registry.example.test/team/base:1",
    baseImageRegistry: { address: "registry.example.test", username: "ci", password },
  },
  python: { userManagedDependencies: true, interpreterPath: "/usr/bin/python3" },
});

describeOnEachDatabase(
  "docker.baseImageRegistry.password holds only secret references",
  "registry_pw",
  ({ database }) => {
    const dir = makeTempDir("mlenv-registry-pw-");
    let store: Store;
    let app: ReturnType<typeof createApp>["app"];
    let admin: string;
    let reader: string;
    beforeAll(async () => {
      const db = database();
      store = await openStore({ dataDir: dir.path, ...(db ? { database: db } : {}) });
      const created = createApp({ store, blobs: new FsBlobStore(`${dir.path}/blobs`) });
      app = created.app;
      admin = (await created.registry.bootstrap(undefined))!.token;
      reader = (await created.registry.createToken((await store.getWorkspace("default"))!.id, "r", "reader"))
        .token;
    });
    afterAll(async () => {
      await store?.close();
      dir.cleanup();
    });
    const call = async (method: string, path: string, token: string, body?: unknown) => {
      const res = await app.request(path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, text, json: JSON.parse(text) as Record<string, unknown> };
    };

    it("refuses a literal password with a clear error that does not echo it, and stores nothing", async () => {
      const password = `pw-${randomBytes(12).toString("hex")}`;
      const res = await call("POST", "/api/v1/environments", admin, { definition: definition(password) });
      expect(res.status).toBe(400);
      expect(res.json.code).toBe("E_DEFINITION_INVALID");
      expect(res.json.message).toContain("docker.baseImageRegistry.password");
      expect(res.json.message).toContain("${MLENV_SECRET_");
      expect(res.text).not.toContain(password);
      expect((await call("GET", "/api/v1/environments/private-base", reader)).status).toBe(404);
    });

    it("accepts a secret reference; readers see the reference, never a value", async () => {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal ${MLENV_SECRET_*} reference syntax
      const ref = "${MLENV_SECRET_REGISTRY_PW}";
      const res = await call("POST", "/api/v1/environments", admin, { definition: definition(ref) });
      expect(res.status).toBe(201);
      const got = await call("GET", "/api/v1/environments/private-base", reader);
      expect(got.status).toBe(200);
      const def = got.json.definition as { docker: { baseImageRegistry: { password: string } } };
      expect(def.docker.baseImageRegistry.password).toBe(ref);
    });

    it("hides a literal password stored before literals were refused", async () => {
      const password = `legacy-${randomBytes(12).toString("hex")}`;
      const ws = (await store.getWorkspace("default"))!;
      const text = JSON.stringify({ ...definition(password), name: "legacy-base" });
      await store.register({
        workspaceId: ws.id,
        name: "legacy-base",
        definitionHash: `mlenv1-sha256:${"1".repeat(64)}`,
        definitionJson: text,
        definitionBlob: `sha256:${"2".repeat(64)}`,
        description: null,
        tags: {},
        curated: false,
        createdBy: "old-server",
        now: new Date().toISOString(),
      });
      for (const path of [
        "/api/v1/environments/legacy-base",
        "/api/v1/environments/legacy-base/versions/1",
      ]) {
        const got = await call("GET", path, reader);
        expect(got.status).toBe(200);
        expect(got.text).not.toContain(password);
        const def = got.json.definition as { docker: { baseImageRegistry: { password: string } } };
        expect(def.docker.baseImageRegistry.password).toBe("***");
      }
    });
  },
);
