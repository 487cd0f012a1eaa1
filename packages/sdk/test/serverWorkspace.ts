import { startServer } from "@mlenv/server";
import { startTestServer, type TestServer } from "@mlenv/test-utils";
import { Workspace } from "../src/workspace";

/** A real server (see startTestServer; stop it after the tests) and a Workspace of its admin token. */
export async function startServerWorkspace(): Promise<{ server: TestServer; ws: Workspace }> {
  const server = await startTestServer(startServer);
  return { server, ws: new Workspace({ url: server.url, token: server.token }) };
}
