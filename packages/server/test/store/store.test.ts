import { join } from "node:path";
import {
  makeTempDir,
  type PostgresHandle,
  postgresMissing,
  skipWithout,
  startPostgres,
} from "@mlenv/test-utils";
import { afterAll } from "vitest";
import { PostgresStore, SqliteStore } from "../../src/database";
import { storeContract } from "./contract";

const dirs: Array<() => void> = [];
let pg: PostgresHandle | undefined;
afterAll(async () => {
  for (const d of dirs) d();
  await pg?.stop();
});

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
    pg = await startPostgres();
    const s = new PostgresStore(pg.url);
    await s.migrate();
    return s;
  },
  async openAgain() {
    const s = new PostgresStore(pg!.url);
    await s.migrate();
    return s;
  },
});
