import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll } from "vitest";
import { storeContract } from "./contract";
import { SqliteStore } from "./sqliteStore";

const dirs: Array<() => void> = [];
afterAll(() => {
  for (const d of dirs) d();
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
