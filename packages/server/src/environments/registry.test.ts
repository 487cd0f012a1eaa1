import { describeWithPostgres, useTempDir } from "@mlenv/test-utils/fixtures";
import { expect, it } from "vitest";
import { FsBlobStore } from "../blobs/blobStore";
import { PostgresStore } from "../database";
import { Registry } from "./registry";

describeWithPostgres("Registry on one PostgreSQL database from several processes", (pg) => {
  const dir = useTempDir();

  it("concurrent first starts bootstrap once and seed curated environments once", async () => {
    const url = pg.createDatabase("racing_start");
    const stores = [0, 1, 2, 3].map(() => new PostgresStore(url));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const regs = stores.map((store) => new Registry({ store, blobs: new FsBlobStore(dir.path) }));
      const token = `mlenv_${"r".repeat(43)}`;
      const boots = await Promise.all(regs.map((r) => r.bootstrap(token)));
      expect(boots.filter((b) => b !== null)).toHaveLength(1);
      await Promise.all(regs.map((r) => r.seedCurated()));
      const ws = (await stores[0]!.getWorkspace("default"))!;
      expect(await stores[0]!.listWorkspaces()).toHaveLength(1);
      expect(await stores[0]!.listTokens(ws.id)).toHaveLength(1);
      expect((await regs[1]!.authenticate(token))?.role).toBe("admin");
      expect(await stores[2]!.listVersions(ws.id, "mlenv-minimal")).toHaveLength(1);
      expect(await stores[3]!.appliedMigrations()).toEqual(await stores[0]!.appliedMigrations());
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
