import pg from "pg";

/** NOTIFY channel carrying the hash of each revoked token. */
export const REVOKED_CHANNEL = "mlenv_token_revoked";

/**
 * Listen for token revocations made by any server process on this PostgreSQL database (see
 * `Store.watchRevocations`). One LISTEN connection; when it is lost (a database restart or
 * failover) the feed is reported lost and the connection is made again every second until it is
 * back. Returns a function that stops listening.
 */
export async function listenForRevocations(
  url: string,
  onRevoked: (tokenHash: string | null) => void,
  onResumed?: () => void,
): Promise<() => Promise<void>> {
  let closing = false;
  let current: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  let connected = false;
  const listen = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: url });
    let failed = false;
    const fail = () => {
      if (failed || closing) return;
      failed = true;
      if (current === client) {
        current = undefined;
        onRevoked(null);
      }
      client.end().catch(() => {});
      retry = setTimeout(() => void listen().catch(() => {}), 1000);
      retry.unref();
    };
    client.on("error", fail);
    client.on("end", fail);
    client.on("notification", (m) => {
      if (m.channel === REVOKED_CHANNEL && m.payload) onRevoked(m.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${REVOKED_CHANNEL}`);
    } catch (e) {
      fail();
      throw e;
    }
    if (closing) {
      await client.end().catch(() => {});
      return;
    }
    current = client;
    if (connected) onResumed?.();
    connected = true;
  };
  await listen();
  return async () => {
    closing = true;
    if (retry) clearTimeout(retry);
    await current?.end().catch(() => {});
  };
}
