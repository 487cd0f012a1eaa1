import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BuildsClient } from "./builds";
import { Workspace } from "./workspace";

/**
 * The build log stream as a proxy may rewrite it: CRLF or CR line ends, events split across
 * chunks, comments and keep-alives. A loopback HTTP server writes those bytes; the SDK reads them.
 */
describe("BuildsClient.follow over server-sent events", () => {
  let server: Server;
  let url = "";
  let body: string[] = [];
  const seenLastEventId: (string | undefined)[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seenLastEventId.push(req.headers["last-event-id"] as string | undefined);
      res.writeHead(200, { "content-type": "text/event-stream" });
      const chunks = [...body];
      const next = () => {
        const c = chunks.shift();
        if (c === undefined) return res.end();
        res.write(c);
        setTimeout(next, 5);
      };
      next();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const job = { id: "b1", status: "succeeded" };
  const follow = async () => {
    const out: unknown[] = [];
    for await (const e of new BuildsClient(new Workspace({ url, token: "t" })).follow("b1")) out.push(e);
    return out;
  };

  it("reads CRLF line ends, with events and lines split across chunks", async () => {
    const line = (seq: number) => JSON.stringify({ seq, step: 1, text: `line ${seq}` });
    body = [
      `: keep-alive\r\n\r\nid: 1\r\nevent: log\r\ndata: ${line(1)}\r`,
      `\n\r\nevent: log\r\nda`,
      `ta: ${line(2)}\r\n\r\n`,
      `event: end\r\ndata: ${JSON.stringify(job)}\r\n\r\n`,
    ];
    expect(await follow()).toEqual([
      { type: "log", line: { seq: 1, step: 1, text: "line 1" } },
      { type: "log", line: { seq: 2, step: 1, text: "line 2" } },
      { type: "end", job },
    ]);
  });

  it("reads CR-only and LF line ends alike", async () => {
    body = [
      `event: log\rdata: ${JSON.stringify({ seq: 1, step: null, text: "a" })}\r\r`,
      `event: end\ndata: ${JSON.stringify(job)}\n\n`,
    ];
    expect(await follow()).toEqual([
      { type: "log", line: { seq: 1, step: null, text: "a" } },
      { type: "end", job },
    ]);
  });

  it("resumes after a dropped connection from the last line seen", async () => {
    seenLastEventId.length = 0;
    let calls = 0;
    const first = [`id: 7\r\nevent: log\r\ndata: ${JSON.stringify({ seq: 7, step: 1, text: "x" })}\r\n\r\n`];
    const second = [`event: end\r\ndata: ${JSON.stringify(job)}\r\n\r\n`];
    body = first;
    const out: unknown[] = [];
    for await (const e of new BuildsClient(new Workspace({ url, token: "t" })).follow("b1")) {
      out.push(e);
      if (++calls === 1) body = second; // the first response ends without an end event
    }
    expect(out).toEqual([
      { type: "log", line: { seq: 7, step: 1, text: "x" } },
      { type: "end", job },
    ]);
    expect(seenLastEventId).toEqual([undefined, "7"]);
  });
});
