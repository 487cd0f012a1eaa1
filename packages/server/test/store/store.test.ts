import { join } from "node:path";
import { makeTempDir, postgresMissing, skipWithout } from "@mlenv/test-utils";
import { usePostgresOnDemand } from "@mlenv/test-utils/fixtures";
import { afterAll, describe, expect, it } from "vitest";
import { PostgresStore, SqliteStore } from "../../src/database";
import { type Database, exec, first, openDatabase, type SqlLocation } from "../../src/store/database";
import { storeContract } from "./contract";

const dirs: Array<() => void> = [];
afterAll(() => {
  for (const d of dirs) d();
});
const postgres = usePostgresOnDemand();

let file = "";
storeContract("sqlite", {
  async open() {
    const t = makeTempDir();
    dirs.push(t.cleanup);
    file = join(t.path, "mlenv.db");
    const s = new SqliteStore(file);
    await s.migrate();
    return s;
  },
  async openAgain() {
    const s = new SqliteStore(file);
    await s.migrate();
    return s;
  },
});

storeContract("postgres", {
  skip: skipWithout("postgres", postgresMissing()),
  async open() {
    const s = new PostgresStore((await postgres()).url);
    await s.migrate();
    return s;
  },
  async openAgain() {
    const s = new PostgresStore((await postgres()).url);
    await s.migrate();
    return s;
  },
});

const backends: Array<{ name: string; skip: boolean; location: () => Promise<SqlLocation> }> = [
  {
    name: "sqlite",
    skip: false,
    async location() {
      const t = makeTempDir();
      dirs.push(t.cleanup);
      return { sqliteFile: join(t.path, "db.sqlite") };
    },
  },
  {
    name: "postgres",
    skip: skipWithout("postgres", postgresMissing()),
    async location() {
      return { postgresUrl: (await postgres()).createDatabase(`tx_${Date.now().toString(36)}`) };
    },
  },
];

/** Read a counter and write it back plus one, in one transaction. */
const increment = (db: Database) =>
  db.tx(function* () {
    const row = yield* first<{ n: number | string }>(db.raw("SELECT n FROM counter WHERE id = 1"));
    yield* exec(db.raw("UPDATE counter SET n = ? WHERE id = 1", [Number(row?.n) + 1]));
  }, "counter");

for (const b of backends) {
  describe.skipIf(b.skip)(`the transaction primitive: ${b.name}`, () => {
    it("serialises read-modify-write bodies, across two handles on one database, and rolls back a throw", async () => {
      const location = await b.location();
      const one = openDatabase(location);
      const two = openDatabase(location);
      try {
        await one.all("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
        await one.all("INSERT INTO counter (id, n) VALUES (1, 0)");
        await Promise.all(Array.from({ length: 60 }, (_, i) => increment(i % 2 ? one : two)));
        expect(Number((await two.all("SELECT n FROM counter"))[0]?.n)).toBe(60);

        await expect(
          one.tx(function* () {
            yield* exec(one.raw("UPDATE counter SET n = 0 WHERE id = 1"));
            throw new Error("changed my mind");
          }),
        ).rejects.toThrow("changed my mind");
        expect(Number((await one.all("SELECT n FROM counter"))[0]?.n)).toBe(60);
        // plain queries of the same process go on while transactions run
        const [, n] = await Promise.all([increment(one), one.all("SELECT n FROM counter")]);
        expect(n).toHaveLength(1);
      } finally {
        await one.close();
        await two.close();
      }
    });
  });
}
