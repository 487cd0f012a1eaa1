import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./freePort";

/** A running throw-away PostgreSQL server on 127.0.0.1. */
export interface PostgresHandle {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Stop the server and remove its data directory. */
  stop(): Promise<void>;
  /** Create a fresh database and return its URL (isolates test files sharing one server). */
  createDatabase(name: string): string;
  /** Stop the server as an operator would for a restart (`pg_ctl stop -m fast`); data is kept. */
  halt(): void;
  /** Start a halted server again on the same port. */
  resume(): void;
}

function binDirs(): string[] {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), "/usr/local/bin"];
  const lib = "/usr/lib/postgresql";
  if (existsSync(lib)) {
    for (const v of readdirSync(lib).sort().reverse()) dirs.push(join(lib, v, "bin"));
  }
  return dirs;
}

function findBinary(name: string): string | null {
  for (const d of binDirs()) {
    const p = join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

/** Why PostgreSQL tests cannot run here, or null when they can. */
export function postgresMissing(): string | null {
  for (const b of ["initdb", "pg_ctl", "postgres", "psql"]) {
    if (!findBinary(b)) return `${b} not found on PATH, /usr/local/bin or /usr/lib/postgresql/*/bin`;
  }
  if (process.getuid?.() === 0 && spawnSync("id", ["-u", "postgres"]).status !== 0) {
    return "running as root and there is no `postgres` user to run initdb as";
  }
  return null;
}

/**
 * Start a real PostgreSQL server in a temporary directory, listening only on 127.0.0.1 (and a
 * unix socket inside that directory), trust authentication. As root, the server runs as the
 * `postgres` user because initdb refuses root. Call `stop()` in afterAll.
 */
export async function startPostgres(): Promise<PostgresHandle> {
  const missing = postgresMissing();
  if (missing) throw new Error(`cannot start PostgreSQL: ${missing}`);
  const initdb = findBinary("initdb")!;
  const pgCtl = findBinary("pg_ctl")!;
  const psql = findBinary("psql")!;
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "mlenv-pg-"));
  const data = join(dir, "data");
  chmodSync(dir, 0o700);
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string, args: string[]): void => {
    const [file, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
    const r = spawnSync(file, argv, { encoding: "utf8" });
    if (r.status !== 0) {
      throw new Error(
        `${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr || r.stdout}`.slice(0, 2000),
      );
    }
  };
  run(initdb, ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
  const startOn = (port: number) =>
    run(pgCtl, [
      "-D",
      data,
      "-l",
      join(dir, "server.log"),
      "-w",
      "-t",
      "60",
      "-o",
      `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200`,
      "start",
    ]);
  let port = 0;
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      startOn(port);
      break;
    } catch (e) {
      if (attempt >= 2) {
        rmSync(dir, { recursive: true, force: true });
        throw e;
      }
    }
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  let halted = false;
  return {
    url,
    port,
    createDatabase(name: string): string {
      if (!/^[a-z][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${JSON.stringify(name)}`);
      const r = spawnSync(
        psql,
        ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-c", `CREATE DATABASE ${name}`],
        {
          encoding: "utf8",
        },
      );
      if (r.status !== 0) throw new Error(`CREATE DATABASE ${name} failed: ${r.stderr}`);
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    halt(): void {
      run(pgCtl, ["-D", data, "-m", "fast", "-w", "stop"]);
      halted = true;
    },
    resume(): void {
      startOn(port);
      halted = false;
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      try {
        if (!halted) run(pgCtl, ["-D", data, "-m", "fast", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
