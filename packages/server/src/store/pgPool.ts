import pg from "pg";

/**
 * PostgreSQL connections that ride out a database restart or failover: a pool whose idle
 * clients may lose their connection, transactions whose checked-out client may lose it mid-way
 * (node-postgres emits `error` on that client, which crashes the process when nobody listens),
 * and a test for "the database is unreachable right now" that the HTTP layer answers with 503.
 */

/**
 * A pool whose clients losing their connection is not fatal, idle or checked out (by a query
 * builder that adds no listener of its own): the query in flight fails, and the client, no longer
 * queryable, is dropped on release and replaced.
 */
export function openPgPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000 });
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

/**
 * Run `fn` on one client of `pool` inside BEGIN/COMMIT (ROLLBACK on a throw). While the client is
 * checked out it has an `error` listener, so a connection lost mid-transaction fails this call
 * instead of the process; a client whose connection failed is destroyed, not returned to the pool.
 */
export async function pgTransaction<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let lost: Error | undefined;
  const onError = (e: Error) => {
    lost = e;
  };
  c.on("error", onError);
  try {
    await c.query("BEGIN");
    const out = await fn(c);
    await c.query("COMMIT");
    return out;
  } catch (e) {
    if (!lost && !isDatabaseUnavailable(e)) await c.query("ROLLBACK").catch(() => {});
    else lost ??= e as Error;
    throw e;
  } finally {
    c.off("error", onError);
    c.release(lost);
  }
}

/** Node socket errors meaning the database cannot be reached. */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTFOUND",
]);

/**
 * True when `e` says the database is unreachable or going away (a restart, failover or network
 * cut) rather than that the statement was wrong: connection exceptions (SQLSTATE class 08),
 * admin/crash shutdown and "cannot connect now" (57P01-57P03), too many connections (53300),
 * refused or reset sockets, and node-postgres' own "connection terminated" errors.
 */
export function isDatabaseUnavailable(e: unknown): boolean {
  if (typeof e !== "object" || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || ["57P01", "57P02", "57P03", "53300"].includes(code)) return true;
    if (SOCKET_CODES.has(code)) return true;
  }
  const message = String((e as { message?: unknown }).message ?? "");
  if (
    /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect|Client was closed and is not queryable/i.test(
      message,
    )
  ) {
    return true;
  }
  // AggregateError (a refused connection to several addresses) and wrapped causes
  const errors = (e as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some(isDatabaseUnavailable)) return true;
  const cause = (e as { cause?: unknown }).cause;
  return cause !== undefined && cause !== e && isDatabaseUnavailable(cause);
}
