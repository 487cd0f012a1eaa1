import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MlenvError } from "./errors";
import { Workspace } from "./workspace";

/**
 * A real HTTP server in its own process (so the test's busy loop does not stop it): it announces
 * a 60 s keep-alive but closes each connection 150 ms after an answer (as a server whose 5 s
 * keep-alive ran out while the caller was busy); `/flaky/<n>` answers 503 n times, then 200;
 * `/count` tells how many requests each path received.
 */
const SERVER = `
const http = require("node:http");
const seen = {};
const server = http.createServer((req, res) => {
  let body = "";
  req.on("data", (d) => (body += d));
  req.on("end", () => {
    const path = req.url;
    seen[req.method + " " + path] = (seen[req.method + " " + path] || 0) + 1;
    res.setHeader("content-type", "application/json");
    res.on("finish", () => setTimeout(() => req.socket.destroy(), 150));
    if (path === "/count") return res.end(JSON.stringify(seen));
    const flaky = /^\\/flaky\\/(\\d+)/.exec(path);
    if (flaky && seen[req.method + " " + path] <= Number(flaky[1])) {
      res.statusCode = 503;
      res.setHeader("retry-after", "0");
      return res.end(JSON.stringify({ code: "E_UNAVAILABLE", message: "try again" }));
    }
    res.end(JSON.stringify({ ok: true, method: req.method, body }));
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[1]), "127.0.0.1", () => process.stdout.write("ready\\n"));
`;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const children: ChildProcess[] = [];
async function startServer(port: number): Promise<void> {
  const child = spawn(process.execPath, ["-e", SERVER, String(port)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
    child.once("exit", (code) => reject(new Error(`test server exited with ${code}`)));
  });
}

/** Keep the event loop busy (as a caller computing something) while the server closes idle sockets. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {}
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

describe("SDK retries", () => {
  it("retries an idempotent request on a keep-alive connection the server closed while the caller was busy", async () => {
    const port = await freePort();
    await startServer(port);
    const ws = new Workspace({ url: `http://127.0.0.1:${port}` });
    for (let i = 0; i < 5; i++) {
      await ws.request("GET", "/a");
      busy(400); // the server closes the idle connection; the client has not noticed yet
      expect(await ws.request("GET", "/a")).toMatchObject({ ok: true });
    }
    // the same with retries off shows the stale connection the retry hides
    const once = new Workspace({ url: `http://127.0.0.1:${port}`, retry: false });
    let failures = 0;
    for (let i = 0; i < 5; i++) {
      await once.request("GET", "/b");
      busy(400);
      await once.request("GET", "/b").catch((e: unknown) => {
        expect(e).toBeInstanceOf(MlenvError);
        expect((e as MlenvError).code).toBe("E_NETWORK");
        failures++;
      });
    }
    expect(failures).toBeGreaterThan(0);
  });

  it("never sends a non-idempotent request twice on a stale connection", async () => {
    const port = await freePort();
    await startServer(port);
    const ws = new Workspace({ url: `http://127.0.0.1:${port}` });
    let failed = 0;
    for (let i = 0; i < 5; i++) {
      await ws.request("GET", "/warm");
      busy(400);
      await ws.request("POST", "/post", { body: { i } }).catch((e: unknown) => {
        expect((e as MlenvError).code).toBe("E_NETWORK");
        failed++;
      });
    }
    const seen = await ws.request<Record<string, number>>("GET", "/count");
    // every POST reached the server at most once: those that failed never arrived
    expect(seen["POST /post"] ?? 0).toBe(5 - failed);
  });

  it("retries idempotent requests with backoff on 503, honouring Retry-After; POST gets the 503", async () => {
    const port = await freePort();
    await startServer(port);
    const ws = new Workspace({ url: `http://127.0.0.1:${port}`, retry: { baseDelayMs: 10 } });
    expect(await ws.request("GET", "/flaky/2")).toMatchObject({ ok: true });
    const err = await ws.request("POST", "/flaky/1", { body: {} }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "E_UNAVAILABLE", status: 503 });
    // more failures than attempts: the last answer is the caller's
    const gone = await ws.request("GET", "/flaky/9").catch((e: unknown) => e);
    expect(gone).toMatchObject({ status: 503 });
    const seen = await ws.request<Record<string, number>>("GET", "/count");
    expect(seen).toMatchObject({ "GET /flaky/2": 3, "POST /flaky/1": 1, "GET /flaky/9": 4 });
  });

  it("retries a refused connection with backoff until the server is up", async () => {
    const port = await freePort();
    const ws = new Workspace({ url: `http://127.0.0.1:${port}`, retry: { baseDelayMs: 200, attempts: 6 } });
    const pending = ws.request("POST", "/late", { body: { x: 1 } });
    setTimeout(() => void startServer(port), 300);
    expect(await pending).toMatchObject({ ok: true, method: "POST", body: '{"x":1}' });
    const seen = await ws.request<Record<string, number>>("GET", "/count");
    expect(seen["POST /late"]).toBe(1);
    // nothing listening at all: E_NETWORK after the attempts
    const nobody = new Workspace({ url: `http://127.0.0.1:${await freePort()}`, retry: { baseDelayMs: 5 } });
    await expect(nobody.request("GET", "/x")).rejects.toMatchObject({ code: "E_NETWORK" });
  });
});
