/**
 * A record as the API shows it: without its internal workspace id (a token only ever sees its
 * own workspace's records).
 */
export function workspaceView<T extends { workspaceId: string }>(record: T): Omit<T, "workspaceId"> {
  const { workspaceId: _w, ...rest } = record;
  return rest;
}
