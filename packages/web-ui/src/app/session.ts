import { isMlenvError, Workspace } from "@mlenv/sdk";

const TOKEN_KEY = "mlenv.token";

/** The token of this browser tab (sessionStorage: gone when the tab closes). */
export function storedToken(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function storeToken(token: string | null): void {
  if (token === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, token);
}

/** A workspace client for this server (same origin) with the given token. */
export function workspaceFor(token: string): Workspace {
  return new Workspace({ url: location.origin, token });
}

/** True when the server refused the token (unknown or revoked). */
export function isUnauthenticated(e: unknown): boolean {
  return isMlenvError(e) && e.code === "E_UNAUTHENTICATED";
}

/** A one-line human message for any error. */
export function errorText(e: unknown): string {
  if (isMlenvError(e)) return `${e.message} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}
