import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ListInput, RegisterInput, Store } from "../../src/store/types";

/**
 * The behaviour every Store backend must show. `open()` returns a fresh, empty, migrated store;
 * `openAgain()` (optional) opens a second connection pool / process-like handle to the same data.
 */
export function storeContract(
  label: string,
  factory: { open(): Promise<Store>; openAgain?: () => Promise<Store>; skip?: boolean },
): void {
  describe.skipIf(factory.skip ?? false)(`Store contract: ${label}`, () => {
    let store: Store;
    let ws: string;
    let other: string;
    const now = "2026-01-01T00:00:00.000Z";
    const input = (name: string, hash: string, extra: Partial<RegisterInput> = {}): RegisterInput => ({
      workspaceId: ws,
      name,
      definitionHash: hash,
      definitionJson: JSON.stringify({ name, hash }),
      definitionBlob: `sha256:${"0".repeat(64)}`,
      description: null,
      tags: {},
      curated: false,
      createdBy: "test",
      now,
      lockJson: null,
      imageKey: `key-${hash}`,
      ...extra,
    });

    beforeAll(async () => {
      store = await factory.open();
      ws = (await store.createWorkspace("w1", now)).id;
      other = (await store.createWorkspace("w2", now)).id;
    });
    afterAll(async () => {
      await store?.close();
    });

    it("records applied migrations and migrating again is a no-op", async () => {
      const before = await store.appliedMigrations();
      expect(before[0]).toBe("0001_registry");
      await store.migrate();
      expect(await store.appliedMigrations()).toEqual(before);
      await store.optimize();
      await store.ping();
    });

    it("workspaces have unique names", async () => {
      expect((await store.getWorkspace("w1"))?.id).toBe(ws);
      await expect(store.createWorkspace("w1", now)).rejects.toThrow();
      expect((await store.listWorkspaces()).map((w) => w.name)).toEqual(["w1", "w2"]);
    });

    it("tokens are found by hash until revoked, per workspace", async () => {
      const t = await store.createToken({
        workspaceId: ws,
        name: "ci",
        role: "writer",
        tokenHash: "h1",
        now,
      });
      const found = await store.findToken("h1");
      expect(found).toMatchObject({ id: t.id, role: "writer", workspaceName: "w1", name: "ci" });
      expect(await store.findToken("nope")).toBeNull();
      expect(await store.revokeToken(other, t.id, now)).toBe(false);
      expect((await store.listTokens(ws)).map((x) => x.id)).toContain(t.id);
      expect(await store.listTokens(other)).toEqual([]);
      expect(await store.revokeToken(ws, t.id, now)).toBe(true);
      expect(await store.findToken("h1")).toBeNull();
      expect(await store.revokeToken(ws, t.id, now)).toBe(false);
      await expect(
        store.createToken({ workspaceId: ws, name: "dup", role: "reader", tokenHash: "h1", now }),
      ).rejects.toThrow();
    });

    it("register: new hash bumps the version, same hash returns the existing one", async () => {
      const a = await store.register(input("env-a", "h-1", { tags: { team: "x" }, description: "first" }));
      expect(a.created).toBe(true);
      expect(a.version).toMatchObject({
        version: 1,
        definitionHash: "h-1",
        description: "first",
        tags: { team: "x" },
      });
      const again = await store.register(input("env-a", "h-1"));
      expect(again.created).toBe(false);
      expect(again.version.version).toBe(1);
      expect(again.version.description).toBe("first");
      const b = await store.register(input("env-a", "h-2"));
      expect(b).toMatchObject({ created: true, version: { version: 2 }, environment: { latestVersion: 2 } });
      // Going back to an earlier definition is not a new version either.
      expect((await store.register(input("env-a", "h-1"))).version.version).toBe(1);
      expect((await store.listVersions(ws, "env-a")).map((v) => v.version)).toEqual([1, 2]);
      expect((await store.getVersion(ws, "env-a", 1))?.definitionJson).toBe(
        JSON.stringify({ name: "env-a", hash: "h-1" }),
      );
      expect(await store.getVersion(ws, "env-a", 3)).toBeNull();
      expect(await store.getEnvironment(other, "env-a")).toBeNull();
      expect(await store.getVersion(other, "env-a", 1)).toBeNull();
    });

    it("locks: stored with a version, attached once to an unlocked one, listed as locked", async () => {
      const u = await store.register(input("env-lk", "lk-1"));
      expect(u.version).toMatchObject({ locked: false, lockJson: null, imageKey: "key-lk-1" });
      const lock = JSON.stringify({ lockVersion: 1, definitionHash: "lk-1", platforms: {} });
      const att = await store.register(input("env-lk", "lk-1", { lockJson: lock, imageKey: "locked-key" }));
      expect(att).toMatchObject({ created: false, lockAttached: true });
      expect(att.version).toMatchObject({ version: 1, locked: true, lockJson: lock, imageKey: "locked-key" });
      // The list item follows a lock attached to the latest version.
      const [attached] = await store.listEnvironments({
        workspaceId: ws,
        prefix: "env-lk",
        limit: 5,
        archived: "exclude",
      });
      expect(JSON.parse(attached!.summaryJson)).toMatchObject({
        version: 1,
        locked: true,
        imageKey: "locked-key",
      });
      // A locked version keeps its lock and key.
      const again = await store.register(input("env-lk", "lk-1", { lockJson: "{}", imageKey: "other" }));
      expect(again.lockAttached).toBeUndefined();
      expect(again.version).toMatchObject({ lockJson: lock, imageKey: "locked-key" });
      const l2 = await store.register(input("env-lk", "lk-2", { lockJson: lock, imageKey: "k2" }));
      expect(l2.version).toMatchObject({ version: 2, locked: true, imageKey: "k2" });
      expect((await store.getVersion(ws, "env-lk", 1))?.lockJson).toBe(lock);
      expect((await store.resolve(ws, "env-lk", {}))?.version?.lockJson).toBe(lock);
      const [listed] = await store.listEnvironments({
        workspaceId: ws,
        prefix: "env-lk",
        limit: 5,
        archived: "exclude",
      });
      expect(JSON.parse(listed!.summaryJson)).toMatchObject({ version: 2, locked: true, imageKey: "k2" });
      expect(await store.getVersion(other, "env-lk", 1)).toBeNull();
    });

    it("50 concurrent registers of distinct definitions get versions 1..50", async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.register(input("env-race", `race-${i}`))),
      );
      const versions = results.map((r) => r.version.version).sort((x, y) => x - y);
      expect(versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect((await store.getEnvironment(ws, "env-race"))?.latestVersion).toBe(50);
    });

    it("concurrent registers of one definition create exactly one version", async () => {
      const results = await Promise.all(
        Array.from({ length: 10 }, () => store.register(input("env-same", "s"))),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.version.version))).toEqual(new Set([1]));
    });

    if (factory.openAgain) {
      it("two handles on the same database allocate versions without gaps or duplicates", async () => {
        const second = await factory.openAgain!();
        try {
          const results = await Promise.all(
            Array.from({ length: 40 }, (_, i) =>
              (i % 2 ? store : second).register(input("env-two", `two-${i}`)),
            ),
          );
          expect(results.map((r) => r.version.version).sort((x, y) => x - y)).toEqual(
            Array.from({ length: 40 }, (_, i) => i + 1),
          );
          expect((await second.getEnvironment(ws, "env-two"))?.latestVersion).toBe(40);
        } finally {
          await second.close();
        }
      });
    }

    it("lists the latest of each name, by name, with paging, prefix, tag and archive filters", async () => {
      for (const n of ["lst-b", "lst-a", "lst-c", "lst-d"]) {
        await store.register(input(n, `${n}-1`, { tags: { kind: "old" } }));
      }
      await store.register(input("lst-b", "lst-b-2", { tags: { kind: "new", gpu: "yes" } }));
      const all = await store.listEnvironments({
        workspaceId: ws,
        prefix: "lst-",
        limit: 10,
        archived: "exclude",
      });
      expect(all.map((e) => e.name)).toEqual(["lst-a", "lst-b", "lst-c", "lst-d"]);
      expect(JSON.parse(all[1]!.summaryJson)).toMatchObject({ name: "lst-b", version: 2, versionCount: 2 });
      const page1 = await store.listEnvironments({
        workspaceId: ws,
        prefix: "lst-",
        limit: 2,
        archived: "exclude",
      });
      const page2 = await store.listEnvironments({
        workspaceId: ws,
        prefix: "lst-",
        limit: 2,
        after: page1.at(-1)!.name,
        archived: "exclude",
      });
      expect([...page1, ...page2].map((e) => e.name)).toEqual(["lst-a", "lst-b", "lst-c", "lst-d"]);
      /** The names `listEnvironments` gives: this workspace, at most 10, archived ones left out, unless `query` says otherwise. */
      const names = async (query: Partial<ListInput>) =>
        (await store.listEnvironments({ workspaceId: ws, limit: 10, archived: "exclude", ...query })).map(
          (e) => e.name,
        );
      // Tags are those of the latest version.
      expect(await names({ prefix: "lst-", tagKey: "kind", tagValue: "old" })).toEqual([
        "lst-a",
        "lst-c",
        "lst-d",
      ]);
      expect(await names({ tagKey: "gpu" })).toEqual(["lst-b"]);
      // Prefix matching is literal (no LIKE wildcards).
      expect(await names({ prefix: "lst%" })).toEqual([]);
      expect(await names({ prefix: "LST-" })).toEqual([]);
      // A prefix is a range of names: a whole name is its own prefix; beyond ASCII matches nothing here.
      expect(await names({ prefix: "lst-b" })).toEqual(["lst-b"]);
      expect(await names({ prefix: "lst-\u00e9" })).toEqual([]);
      expect(await names({ prefix: "lst-\u{10FFFF}" })).toEqual([]);
      expect(await names({ workspaceId: other, archived: "include" })).toEqual([]);

      const arch = await store.setArchived(ws, "lst-c", true, now);
      expect(arch?.archived).toBe(true);
      expect(await names({ prefix: "lst-" })).toEqual(["lst-a", "lst-b", "lst-d"]);
      expect(await names({ prefix: "lst-", archived: "only" })).toEqual(["lst-c"]);
      // The list item follows the archive flag.
      const [archivedItem] = await store.listEnvironments({
        workspaceId: ws,
        prefix: "lst-c",
        limit: 1,
        archived: "only",
      });
      expect(JSON.parse(archivedItem!.summaryJson)).toMatchObject({ name: "lst-c", archived: true });
      expect((await store.getVersion(ws, "lst-c", 1))?.version).toBe(1);
      expect((await store.setArchived(ws, "lst-c", false, now))?.archived).toBe(false);
      expect(await store.setArchived(ws, "missing", true, now)).toBeNull();
    });

    it("labels move between versions and are per environment", async () => {
      await store.register(input("lbl", "l1"));
      await store.register(input("lbl", "l2"));
      await store.setLabel({ workspaceId: ws, name: "lbl", label: "production", version: 1, now });
      expect((await store.getLabel(ws, "lbl", "production"))?.version).toBe(1);
      await store.setLabel({ workspaceId: ws, name: "lbl", label: "production", version: 2, now });
      expect((await store.getLabel(ws, "lbl", "production"))?.version).toBe(2);
      await store.setLabel({ workspaceId: ws, name: "lbl", label: "staging", version: 1, now });
      expect((await store.listLabels(ws, "lbl")).map((l) => [l.label, l.version])).toEqual([
        ["production", 2],
        ["staging", 1],
      ]);
      expect(await store.getLabel(other, "lbl", "production")).toBeNull();
      await expect(
        store.setLabel({ workspaceId: ws, name: "lbl", label: "x", version: 9, now }),
      ).rejects.toThrow();
      expect(await store.deleteLabel(ws, "lbl", "staging")).toBe(true);
      expect(await store.deleteLabel(ws, "lbl", "staging")).toBe(false);
    });

    it("resolve returns latest, a version or a label's version with its labels, in one call", async () => {
      await store.register(input("res", "r1"));
      await store.register(input("res", "r2"));
      await store.setLabel({ workspaceId: ws, name: "res", label: "prod", version: 1, now });
      await store.setLabel({ workspaceId: ws, name: "res", label: "alpha", version: 1, now });
      const latest = await store.resolve(ws, "res", {});
      expect(latest).toMatchObject({
        environment: { name: "res", latestVersion: 2 },
        version: { version: 2 },
        labels: [],
      });
      const v1 = await store.resolve(ws, "res", { version: 1 });
      expect(v1?.version?.definitionHash).toBe("r1");
      expect(v1?.labels).toEqual(["alpha", "prod"]);
      expect((await store.resolve(ws, "res", { label: "prod" }))?.version?.version).toBe(1);
      const noLabel = await store.resolve(ws, "res", { label: "nope" });
      expect(noLabel?.environment.name).toBe("res");
      expect(noLabel?.version).toBeNull();
      expect((await store.resolve(ws, "res", { version: 3 }))?.version).toBeNull();
      expect(await store.resolve(ws, "missing", {})).toBeNull();
      expect(await store.resolve(other, "res", {})).toBeNull();
    });

    it("property: versions follow the first appearance of each distinct definition, per name", async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom("a", "b", "c"), fc.constantFrom("h1", "h2", "h3", "h4")), {
            maxLength: 25,
          }),
          async (ops) => {
            const prefix = `prop${run++}-`;
            const model = new Map<string, string[]>();
            for (const [n, h] of ops) {
              const seen = model.get(n) ?? [];
              const known = seen.indexOf(h);
              const expected = known >= 0 ? known + 1 : seen.push(h);
              model.set(n, seen);
              const r = await store.register(input(prefix + n, h));
              expect(r.created).toBe(known < 0);
              expect(r.version.version).toBe(expected);
            }
            for (const [n, hashes] of model) {
              const versions = await store.listVersions(ws, prefix + n);
              expect(versions.map((v) => v.definitionHash)).toEqual(hashes);
              expect((await store.getEnvironment(ws, prefix + n))?.latestVersion).toBe(hashes.length);
            }
          },
        ),
        { numRuns: 25 },
      );
    });

    it("a failed register leaves no trace", async () => {
      // A tag row that violates NOT NULL fails the transaction after the version row was written.
      const bad = input("env-bad", "bad-1", { tags: { ok: "1", broken: null as unknown as string } });
      await expect(store.register(bad)).rejects.toThrow();
      expect(await store.getEnvironment(ws, "env-bad")).toBeNull();
      expect(await store.listVersions(ws, "env-bad")).toEqual([]);
      expect((await store.register(input("env-bad", "bad-1"))).version.version).toBe(1);
    });

    it("a workspace and its admin token are created together or not at all", async () => {
      const hash = "f".repeat(64);
      const made = await store.createWorkspace("w-admin", now, { name: "bootstrap-admin", tokenHash: hash });
      expect(await store.findToken(hash)).toMatchObject({
        workspaceId: made.id,
        workspaceName: "w-admin",
        role: "admin",
        name: "bootstrap-admin",
      });
      // The token insert fails (its hash is taken): the workspace insert is rolled back with it.
      await expect(
        store.createWorkspace("w-orphan", now, { name: "admin", tokenHash: hash }),
      ).rejects.toThrow();
      expect(await store.getWorkspace("w-orphan")).toBeNull();
      expect((await store.createWorkspace("w-orphan", now)).name).toBe("w-orphan");
    });

    it("onlyIfNew registers a new name, and returns an existing one untouched", async () => {
      const first = await store.register(input("env-clone", "c-1", { onlyIfNew: true }));
      expect(first).toMatchObject({ created: true, version: { version: 1 } });
      const taken = await store.register(input("env-clone", "c-2", { onlyIfNew: true }));
      expect(taken).toMatchObject({ created: false, version: { version: 1, definitionHash: "c-1" } });
      expect((await store.listVersions(ws, "env-clone")).map((v) => v.version)).toEqual([1]);
      // Concurrent clones to one new name: exactly one creates it.
      const racers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          store.register(input("env-clone-race", `r-${i}`, { onlyIfNew: true })),
        ),
      );
      expect(racers.filter((r) => r.created)).toHaveLength(1);
      expect((await store.listVersions(ws, "env-clone-race")).map((v) => v.version)).toEqual([1]);
    });
  });
}
