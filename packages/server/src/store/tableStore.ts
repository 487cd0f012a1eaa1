import type { Kysely } from "kysely";
import type { Database } from "./database";

/**
 * A store of one feature's tables on the server's database: typed queries on those tables (`k`),
 * the handle (`db`) for transactions, and `close()`, which closes the handle only when the store
 * opened it for itself.
 */
export abstract class TableStore<T extends Record<string, Record<string, unknown>>> {
  protected readonly k: Kysely<T>;

  constructor(
    protected readonly db: Database,
    /** Closes the handle when the store opened it for itself. */
    private readonly release: () => Promise<void> = async () => {},
  ) {
    this.k = db.kysely.withTables<T>() as unknown as Kysely<T>;
  }

  close(): Promise<void> {
    return this.release();
  }
}
