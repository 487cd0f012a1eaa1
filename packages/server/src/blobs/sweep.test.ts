import { existsSync, mkdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir, startTestServer } from "@mlenv/test-utils";
import { describeOnEachDatabase } from "@mlenv/test-utils/fixtures";
import { expect, it } from "vitest";
import { apiClient } from "../../test/helpers";
import { startServer } from "../server";
import { blobOwner } from "./blobOwner";
import { blobDigest, FsBlobStore } from "./blobStore";

describeOnEachDatabase("start-up blob sweep", "blob_sweep", ({ database }) => {
  it("removes what a crashed process left (partial writes and uploads, uncommitted definition blobs) and keeps referenced data and live files", async () => {
    const dir = makeTempDir("mlenv-sweep-");
    try {
      const db = database();
      const opts = { dataDir: dir.path, ...(db ? { database: db } : {}) };
      const first = await startTestServer(startServer, opts);
      const api = apiClient(first.url, first.token);
      const reg = await api("POST", "/api/v1/environments", { definition: { name: "kept" } });
      expect(reg.status, JSON.stringify(reg.json)).toBe(201);
      const keptBlob = String(reg.json.environment.definitionBlob);
      expect(keptBlob).toMatch(/^sha256:[0-9a-f]{64}$/);
      await first.stop();

      // what a process that died mid-work leaves behind (a pid that never runs: it is gone)
      const root = join(dir.path, "blobs");
      const blobs = new FsBlobStore(root);
      const dead = blobOwner(999_999_999, 1);
      const file = (path: string, text = "partial") => {
        mkdirSync(join(path, ".."), { recursive: true });
        writeFileSync(path, text);
        return path;
      };
      const hex = (d: string) => d.slice("sha256:".length);
      const tmp = file(join(root, "sha256", "ab", `.tmp-${dead}-0123456789abcdef`));
      const upload = file(join(root, "tmp", `.upload-${dead}-00112233445566778899aabb`));
      // an older server's temp file (no owner) untouched for two hours
      const legacy = file(join(root, "sha256", "cd", ".tmp-0011223344556677"));
      const old = (Date.now() - 2 * 3600_000) / 1000;
      utimesSync(legacy, old, old);
      // a registration that wrote its definition blob, then crashed before the row committed
      const orphanBytes = new TextEncoder().encode('{"name":"never-registered"}');
      const orphan = await blobs.put(orphanBytes);
      expect(orphan).toBe(blobDigest(orphanBytes));
      file(join(root, "pending", dead, hex(orphan)), "");
      // one that committed but crashed before clearing its mark: the blob is in use
      file(join(root, "pending", dead, hex(keptBlob)), "");
      // a live process's upload in progress (this test's process): left alone
      const live = file(join(root, "tmp", `.upload-${blobOwner()}-ffeeddccbbaa998877665544`));

      const second = await startTestServer(startServer, { ...opts, token: first.token });
      try {
        expect(existsSync(tmp)).toBe(false);
        expect(existsSync(upload)).toBe(false);
        expect(existsSync(legacy)).toBe(false);
        expect(await blobs.has(orphan)).toBe(false);
        expect(existsSync(join(root, "pending", dead))).toBe(false);
        expect(existsSync(live)).toBe(true);
        expect(await blobs.has(keptBlob)).toBe(true);
        const env = await apiClient(second.url, first.token)("GET", "/api/v1/environments/kept");
        expect(env.status).toBe(200);
        expect(
          second.logs.some((l) => JSON.stringify(l).includes("swept abandoned blob files")),
          JSON.stringify(second.logs).slice(0, 2000),
        ).toBe(true);
      } finally {
        await second.stop();
      }
    } finally {
      dir.cleanup();
    }
  }, 120_000);
});
