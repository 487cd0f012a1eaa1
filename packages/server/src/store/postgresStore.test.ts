import { type PostgresHandle, postgresMissing, skipWithout, startPostgres } from "@mlenv/test-utils";
import { afterAll } from "vitest";
import { storeContract } from "./contract";
import { PostgresStore } from "./postgresStore";

const skip = skipWithout("postgres", postgresMissing());
let pg: PostgresHandle | undefined;
afterAll(async () => {
  await pg?.stop();
});

storeContract("postgres", {
  skip,
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
