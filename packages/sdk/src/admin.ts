import { environments as E } from "@mlenv/api";
import type { Role } from "./registry";
import type { Workspace } from "./workspace";

/** An API token of the workspace (its secret is never returned after creation). */
export type TokenInfo = E.Token;

/** A new token: the plaintext `token` is shown only in this answer. */
export type CreatedToken = E.TokenCreated;

/** A new workspace and the admin token of it (shown only once). */
export type CreatedWorkspace = E.WorkspaceCreated;

/** Admin calls of one workspace: tokens (share read or write access) and new workspaces. */
export class AdminClient {
  constructor(readonly workspace: Workspace) {}

  async listTokens(): Promise<TokenInfo[]> {
    return (await this.workspace.call(E.listTokens)).items;
  }

  /** Create a token with a role (`reader` to share read-only access). */
  createToken(name: string, role: Role): Promise<CreatedToken> {
    return this.workspace.call(E.createToken, { body: { name, role } });
  }

  async revokeToken(id: string): Promise<void> {
    await this.workspace.call(E.revokeToken, { params: { id } });
  }

  /**
   * Create another workspace; its environments and tokens are invisible to this one. Only server
   * admins (admin tokens of the `default` workspace) may: other admins get 403 `E_FORBIDDEN`.
   */
  createWorkspace(name: string): Promise<CreatedWorkspace> {
    return this.workspace.call(E.createWorkspace, { body: { name } });
  }
}
