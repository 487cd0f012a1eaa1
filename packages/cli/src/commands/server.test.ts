import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { makeTempDir } from "@mlenv/test-utils";
import { afterAll, describe, expect, it } from "vitest";
import { collectOutput } from "../e2e/cliProcess";
import { runInProcess } from "../internal/runInProcess";

const repoRoot = join(import.meta.dirname, "..", "..", "..", "..");
const t = makeTempDir("mlenv-cli-server-");
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  t.cleanup();
});

/**
 * Start `mlenv server start` as a real process (node on src/bin.ts, what `pnpm mlenv` runs; pnpm
 * itself is left out so the signal reaches the server); resolve once it prints its URL.
 */
function startProcess(args: string[], env: Record<string, string> = {}) {
  const bin = join(repoRoot, "packages", "cli", "src", "bin.ts");
  const node = ["--import", "tsx", "--conditions=@mlenv/source", bin];
  const child = spawn(process.execPath, [...node, "server", "start", "--port", "0", ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no URL after 60 s; stdout=${stdout} stderr=${stderr}`)),
      60_000,
    );
    child.stdout.on("data", () => {
      const m = /listening on (http:\/\/\S+)/.exec(stdout);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", () => reject(new Error(`exited early; stdout=${stdout} stderr=${stderr}`)));
  });
  return { child, url, exited, output: () => ({ stdout, stderr }) };
}

describe("mlenv server start (real process)", () => {
  it("starts on a fresh data dir, writes the admin token 0600, serves /healthz and stops on SIGTERM", async () => {
    const dataDir = join(t.path, "data");
    const p = startProcess(["--data-dir", dataDir]);
    const url = await p.url;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/healthz`);
    expect(await health.json()).toMatchObject({ status: "ok", store: "sqlite" });
    const tokenFile = join(dataDir, "admin-token");
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, "utf8").trim();
    expect(p.output().stdout).toContain(`admin token: ${tokenFile}`);
    expect(p.output().stdout).not.toContain(token);

    // log in with the token from stdin, in-process, against the real server
    const config = join(t.path, "config.json");
    const login = await runInProcess(["login", "--url", url, "--token-stdin"], {
      env: { MLENV_CONFIG: config },
      readStdin: async () => `${token}\n`,
    });
    expect(login.code).toBe(0);
    expect(login.stdout).toMatch(
      /^Logged in to http:\/\/127\.0\.0\.1:\d+ as .+ \(admin\) in workspace default; saved to /,
    );
    expect(statSync(config).mode & 0o777).toBe(0o600);
    const who = await runInProcess(["whoami", "--json"], { env: { MLENV_CONFIG: config } });
    expect(JSON.parse(who.stdout)).toMatchObject({ role: "admin", workspace: "default", url });

    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(p.output().stdout).toMatch(/stopping \(SIGTERM\)\.\.\.\nstopped\n$/);
  }, 120_000);

  it("refuses a non-postgres --database with one line and exit 1", async () => {
    const r = await runInProcess([
      "server",
      "start",
      "--database",
      "mysql://x",
      "--data-dir",
      join(t.path, "d2"),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: Expected --database to be a PostgreSQL URL such as postgres:\/\/.*\n$/);
  });

  it("runs in-process until told to stop", async () => {
    let stop!: (s: string) => void;
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const dataDir = join(t.path, "inproc");
    const running = runInProcess(["server", "start", "--port", "0", "--data-dir", dataDir], {
      untilStopped: () => stopped,
    });
    // wait for the admin token file, then stop
    for (let i = 0; i < 2400; i++) {
      try {
        statSync(join(dataDir, "admin-token"));
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    stop("test");
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^mlenv server listening on http:\/\/127\.0\.0\.1:\d+\n/);
    expect(r.stdout).toContain("stopping (test)...\nstopped\n");
  });
});

describe("mlenv server start settings from the environment", () => {
  it("takes port, host, data and blob directories from MLENV_* when no flag is given", async () => {
    const free = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    let stop!: (s: string) => void;
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const dataDir = join(t.path, "from-env");
    const blobDir = join(t.path, "from-env-blobs");
    const running = runInProcess(["server", "start"], {
      env: {
        MLENV_PORT: String(free),
        MLENV_HOST: "127.0.0.1",
        MLENV_DATA_DIR: dataDir,
        MLENV_BLOB_DIR: blobDir,
      },
      untilStopped: () => stopped,
    });
    // The admin token is written before the server listens: wait for the port itself to answer.
    let health: Response | null = null;
    for (let i = 0; i < 2400 && !health; i++) {
      health = await fetch(`http://127.0.0.1:${free}/healthz`).catch(() => null);
      if (!health) await new Promise((r) => setTimeout(r, 25));
    }
    expect(health?.status).toBe(200);
    statSync(join(dataDir, "admin-token"));
    expect(statSync(blobDir).isDirectory()).toBe(true);
    stop("test");
    const r = await running;
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`mlenv server listening on http://127.0.0.1:${free}\n`);
  });

  it("refuses a malformed MLENV_PORT naming the variable, and a flag wins over it", async () => {
    const bad = await runInProcess(["server", "start", "--database", "mysql://x"], {
      env: { MLENV_PORT: "80a" },
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      /^error: Expected MLENV_PORT to be a port 0-65535, e\.g\. 8080; received 80a \[E_USAGE\]\n$/,
    );
    const flagWins = await runInProcess(["server", "start", "--port", "0", "--database", "mysql://x"], {
      env: { MLENV_PORT: "80a" },
    });
    expect(flagWins.stderr).toMatch(/^error: Expected --database to be a PostgreSQL URL/);
  });

  it("reads a --config file (flags > environment > file), names its bad fields, and honours --log-level", async () => {
    const file = join(t.path, "server.yaml");
    writeFileSync(file, `dataDir: ${join(t.path, "from-file")}\nport: 0\nbuildConcurrency: 0\n`);
    const bad = await runInProcess(["server", "start", "--config", file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(
      `error: Expected field buildConcurrency of config file ${file} to be a positive whole number, e.g. 2; received 0 [E_USAGE]\n`,
    );
    // the environment wins over the file; the flag over both
    const overridden = await runInProcess(["server", "start", "--config", file, "--build-concurrency", "x"], {
      env: { MLENV_BUILD_CONCURRENCY: "2" },
    });
    expect(overridden.stderr).toMatch(/^error: Expected --build-concurrency to be a positive whole number/);

    writeFileSync(file, `dataDir: ${join(t.path, "from-file")}\nport: 0\nlogLevel: error\n`);
    const logs = async (args: string[]) => {
      let stop!: (s: string) => void;
      const stopped = new Promise<string>((resolve) => {
        stop = resolve;
      });
      const running = runInProcess(["server", "start", "--config", file, ...args], {
        untilStopped: () => {
          stop("test");
          return stopped;
        },
      });
      const r = await running;
      expect(r.code, r.stderr).toBe(0);
      return r.stderr
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => (JSON.parse(l) as { level: string; msg: string }).level);
    };
    // file: error only; the flag lowers it to info
    expect(await logs([])).toEqual([]);
    expect(await logs(["--log-level", "info"])).toContain("info");
    statSync(join(t.path, "from-file", "admin-token"));
  });
});

describe("mlenv server worker", () => {
  it("starts on the server's data dir with the server's settings and stops when told", async () => {
    const dataDir = join(t.path, "worker-data");
    let stop!: (s: string) => void;
    const stopped = new Promise<string>((resolve) => {
      stop = resolve;
    });
    const r = await runInProcess(
      ["server", "worker", "--data-dir", dataDir, "--json", "--log-level", "warn"],
      {
        env: { DOCKER_HOST: `unix://${join(t.path, "no-engine.sock")}` },
        untilStopped: () => {
          stop("test");
          return stopped;
        },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { event: string; url?: string; storage?: string });
    expect(events.map((e) => e.event)).toEqual(["ready", "stopping", "stopped"]);
    expect(events[0]).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) });
    expect(events[0]?.storage).toBe(`sqlite in ${dataDir}`);
    // the worker logs no info lines at warn; without an engine it warns once
    expect(r.stderr).toContain('"level":"warn","msg":"no Docker engine answers');
    expect(r.stderr).not.toContain('"level":"info"');
  });
});

describe("mlenv binary (real process)", () => {
  it("pnpm mlenv --version and an offline command work from the repository root", async () => {
    const run = (args: string[]) =>
      collectOutput(
        spawn("pnpm", ["-s", "mlenv", ...args], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }),
      );
    const v = await run(["--version"]);
    expect(v).toMatchObject({ code: 0, stdout: "0.0.0\n" });
    const dir = join(t.path, "bin-scaffold");
    expect((await run(["env", "scaffold", "-n", "b", "-d", dir])).code).toBe(0);
    const h = await run(["env", "hash", "-d", dir, "--json"]);
    expect(h.code).toBe(0);
    expect(JSON.parse(h.stdout).definitionHash).toMatch(/^mlenv1-sha256:/);
    const bad = await run(["env", "hash", "-d", join(dir, "missing")]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  }, 60_000);

  it("mlenv --version loads neither the SDK, the server nor the resolver (they load when a command runs)", async () => {
    // a module hook that names each module of those packages as it is resolved
    const hook = `export async function resolve(specifier, context, next) {
      const r = await next(specifier, context);
      if (/\\/packages\\/(sdk|server|resolver)\\//.test(r.url)) process.stderr.write("loaded " + r.url + "\\n");
      return r;
    }`;
    const dataUrl = (code: string) => `data:text/javascript,${encodeURIComponent(code)}`;
    const register = `import { register } from "node:module"; register(${JSON.stringify(dataUrl(hook))});`;
    const run = (args: string[]) =>
      collectOutput(
        spawn(
          process.execPath,
          [
            "--import",
            "tsx",
            "--import",
            dataUrl(register),
            "--conditions=@mlenv/source",
            join("packages", "cli", "src", "bin.ts"),
            ...args,
          ],
          {
            cwd: repoRoot,
            stdio: ["ignore", "pipe", "pipe"],
            // no config file; a server that is not there (the command fails once the SDK asks it)
            env: {
              ...process.env,
              MLENV_CONFIG: join(t.path, "no-config.json"),
              MLENV_URL: "http://127.0.0.1:9",
            },
          },
        ),
      );
    expect(await run(["--version"])).toMatchObject({ code: 0, stdout: "0.0.0\n", stderr: "" });
    // the hook sees them where a command needs them
    const needsSdk = await run(["token", "list"]);
    expect(needsSdk.stderr).toMatch(/^loaded .*\/packages\/sdk\//m);
  }, 60_000);
});
