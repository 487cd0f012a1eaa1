import { seg } from "./internal/url";
import type { Role } from "./registry";
import type { Workspace } from "./workspace";

/** An API token of the workspace (its secret is never returned after creation). */
export interface TokenInfo {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
}

/** A new token: the plaintext `token` is shown only in this answer. */
export interface CreatedToken extends TokenInfo {
  token: string;
}

/** A new workspace and the admin token of it (shown only once). */
export interface CreatedWorkspace {
  workspace: { name: string; createdAt: string };
  adminToken: string;
}

/** Admin calls of one workspace: tokens (share read or write access) and new workspaces. */
export class AdminClient {
  constructor(readonly workspace: Workspace) {}

  async listTokens(): Promise<TokenInfo[]> {
    const res = await this.workspace.request<{ items: TokenInfo[] }>("GET", "/api/v1/tokens");
    return res.items;
  }

  /** Create a token with a role (`reader` to share read-only access). */
  createToken(name: string, role: Role): Promise<CreatedToken> {
    return this.workspace.request("POST", "/api/v1/tokens", { body: { name, role } });
  }

  async revokeToken(id: string): Promise<void> {
    await this.workspace.request("DELETE", `/api/v1/tokens/${seg(id)}`);
  }

  /**
   * Create another workspace; its environments and tokens are invisible to this one. Only server
   * admins (admin tokens of the `default` workspace) may: other admins get 403 `E_FORBIDDEN`.
   */
  createWorkspace(name: string): Promise<CreatedWorkspace> {
    return this.workspace.request("POST", "/api/v1/workspaces", { body: { name } });
  }
}
