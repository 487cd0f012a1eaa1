export { venvMissing } from "@mlenv/test-utils";

/** A tiny JSON client of a test server (answers are checked field by field with expect). */
export function apiClient(url: string, token: string) {
  // biome-ignore lint/suspicious/noExplicitAny: test answers are checked field by field with expect()
  return async function api<T = any>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: T }> {
    const res = await fetch(url + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text ? JSON.parse(text) : null) as T };
  };
}

/** Files for `POST /api/v1/snapshots`. */
export function snapshotFiles(files: Record<string, string>): { path: string; content: string }[] {
  return Object.entries(files).map(([path, text]) => ({
    path,
    content: Buffer.from(text).toString("base64"),
  }));
}
