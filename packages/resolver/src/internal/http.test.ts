import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { nodeGet, responseBytes } from "./http";

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A loopback server that answers every connection with `head` + `body`, then closes. */
async function rawServer(head: string, body: string): Promise<string> {
  server = createServer((socket) => {
    socket.on("data", () => {
      socket.end(`${head}\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", () => r()));
  const address = server.address() as { port: number };
  return `http://127.0.0.1:${address.port}/repodata.json`;
}

describe("nodeGet", () => {
  it("reads a body of the declared length into one buffer", async () => {
    const url = await rawServer("HTTP/1.1 200 OK\r\ncontent-length: 11\r\nconnection: close", '{"a": true}');
    const res = await nodeGet(url, { headers: {} });
    expect((await responseBytes(res)).toString()).toBe('{"a": true}');
  });

  it("does not trust a huge Content-Length: the short body fails the request, the process lives", async () => {
    const url = await rawServer(
      "HTTP/1.1 200 OK\r\ncontent-length: 9007199254740991\r\nconnection: close",
      '{"packages": {}}',
    );
    await expect(nodeGet(url, { headers: {} })).rejects.toThrow();
  });
});
