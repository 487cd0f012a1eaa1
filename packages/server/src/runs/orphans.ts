import { createHash } from "node:crypto";
import { readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { DockerClient } from "../docker/client";

/** Start time of a process (clock ticks since boot, /proc/PID/stat field 22), or null when it is gone. */
export function processStartTime(pid: number): number | null {
  const st = procStat(pid);
  return st ? st.start : null;
}

/** Process group and start time of a process from /proc (null when gone or unreadable). */
function procStat(pid: number): { pgrp: number; start: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: fields resume after the last ")"
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const pgrp = Number(rest[2]);
    const start = Number(rest[19]);
    return Number.isFinite(pgrp) && Number.isFinite(start) ? { pgrp, start } : null;
  } catch {
    return null;
  }
}

/** One process of this machine identified so that a reused pid is never mistaken for it. */
export interface ProcessIdentity {
  pid: number;
  start: number;
}

function alive(p: ProcessIdentity): boolean {
  return processStartTime(p.pid) === p.start;
}

interface Entry {
  /** The server process that started the group. */
  owner: ProcessIdentity;
  /** The group's leader (its pid is the group id). */
  group: ProcessIdentity;
  /** The account the group runs as (uid mode), else null. */
  uid: number | null;
}

/**
 * The process groups of user code this data dir's server processes started
 * (`<dataDir>/work/procs/*.json`): a restarted server kills those of a server process that is
 * gone (a crash leaves them running), so nothing keeps a service's port or burns CPU.
 */
export class ProcessRegistry {
  readonly #dir: string;
  readonly #me: ProcessIdentity;

  constructor(dataDir: string) {
    this.#dir = join(dataDir, "work", "procs");
    const start = processStartTime(process.pid);
    this.#me = { pid: process.pid, start: start ?? 0 };
  }

  /** This server process. */
  get me(): ProcessIdentity {
    return this.#me;
  }

  #file(key: string): string {
    if (!/^[a-z]+-[A-Za-z0-9_-]{1,100}$/.test(key)) throw new Error(`not a process key: ${key}`);
    return join(this.#dir, `${key}.json`);
  }

  /** Remember a started group (its leader's pid is the group id: spawned detached). */
  async record(key: string, pid: number | undefined, uid: number | null): Promise<void> {
    if (pid === undefined) return;
    const start = processStartTime(pid);
    if (start === null) return; // already gone
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const entry: Entry = { owner: this.#me, group: { pid, start }, uid };
    await writeFile(this.#file(key), JSON.stringify(entry), { mode: 0o600 });
  }

  async forget(key: string): Promise<void> {
    await rm(this.#file(key), { force: true });
  }

  /**
   * Kill the groups whose server process is gone (it crashed), members included: every process
   * in the group that started no earlier than its leader (and, with accounts, runs as the
   * group's account), so a reused pid is never hit. Returns how many processes were killed.
   */
  async sweep(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    let killed = 0;
    for (const name of names) {
      if (!name.endsWith(".json")) continue;
      const file = join(this.#dir, name);
      let entry: Entry;
      try {
        entry = JSON.parse(await readFile(file, "utf8")) as Entry;
      } catch {
        await rm(file, { force: true });
        continue;
      }
      const mine = entry.owner.pid === this.#me.pid && entry.owner.start === this.#me.start;
      if (mine || alive(entry.owner)) continue;
      // twice: a member may fork while the first pass runs
      for (let pass = 0; pass < 2; pass++) killed += killGroup(entry);
      await rm(file, { force: true });
    }
    return killed;
  }
}

function killGroup(entry: Entry): number {
  let n = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const st = procStat(pid);
    if (!st || st.pgrp !== entry.group.pid || st.start < entry.group.start) continue;
    if (entry.uid !== null) {
      try {
        if (statSync(`/proc/${pid}`).uid !== entry.uid) continue;
      } catch {
        continue;
      }
    }
    try {
      process.kill(pid, "SIGKILL");
      n++;
    } catch {}
  }
  return n;
}

/** Labels of a container this server process starts: which data dir and which process own it. */
export function ownerLabels(dataDir: string, me: ProcessIdentity): Record<string, string> {
  let real = dataDir;
  try {
    real = realpathSync(dataDir);
  } catch {}
  return {
    "mlenv.data-dir": createHash("sha256").update(`${hostname()}\0${real}`).digest("hex").slice(0, 32),
    "mlenv.owner": `${hostname()}:${me.pid}:${me.start}`,
  };
}

/**
 * Remove the containers of this data dir whose server process (on this host) is gone. Returns
 * how many were removed.
 */
export async function sweepContainers(
  client: DockerClient,
  dataDir: string,
  me: ProcessIdentity,
): Promise<number> {
  const labels = ownerLabels(dataDir, me);
  const ids = await client.containersWithLabel("mlenv.data-dir", labels["mlenv.data-dir"]!);
  let removed = 0;
  for (const id of ids) {
    const c = await client.inspectContainer(id);
    const owner = c?.Config?.Labels?.["mlenv.owner"] ?? "";
    const m = /^(.*):(\d+):(\d+)$/.exec(owner);
    if (!m || m[1] !== hostname()) continue;
    if (alive({ pid: Number(m[2]), start: Number(m[3]) })) continue;
    if (await client.removeContainer(id).catch(() => false)) removed++;
  }
  return removed;
}
