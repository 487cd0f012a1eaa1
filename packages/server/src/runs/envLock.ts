import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";

/**
 * Who holds an environment lock: written into the lock file, renewed (`beat`) while the holder
 * builds, so that a process on another machine can tell a live holder from a dead one.
 */
export interface EnvLockOwner {
  host: string;
  /** The kernel's boot id: the same host name after a reboot is another holder. */
  boot: string;
  pid: number;
  /** The holder process's start time (clock ticks since boot, /proc/PID/stat field 22): tells a reused pid. */
  start: string;
  token: string;
  beat: number;
}

export interface EnvLockOptions {
  /** The lock file, on the directory the environments live in (e.g. `<dir>.lock`). */
  path: string;
  /** This machine's name in the lock (default `os.hostname()`); tests name other "nodes". */
  host?: string;
  /** How often the holder renews the lock (default 5 s). */
  beatMs?: number;
  /**
   * A holder on another machine whose lock has not changed for this long (by this process's own
   * clock, so clocks need not agree) is dead and its lock is taken over (default 60 s).
   */
  staleMs?: number;
  /** How often a waiter looks again (default 500 ms). */
  pollMs?: number;
  /** Checked before each attempt: true when the environment is already complete (no lock needed). */
  done?: () => boolean;
  /** Called once when the lock is held by someone else and this process waits. */
  onWait?: (holder: EnvLockOwner | null) => void;
}

/** A held lock: renewed until released. */
export interface EnvLockHandle {
  readonly owner: EnvLockOwner;
  release(): Promise<void>;
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** A process's start time from /proc (empty where /proc is missing or the process is gone). */
function processStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // the command name (field 2) may hold spaces and parentheses: fields after the last ')'
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

function parseOwner(text: string): EnvLockOwner | null {
  try {
    const v = JSON.parse(text) as Partial<EnvLockOwner>;
    if (typeof v.host !== "string" || typeof v.pid !== "number" || typeof v.token !== "string") return null;
    return {
      host: v.host,
      boot: String(v.boot ?? ""),
      pid: v.pid,
      start: String(v.start ?? ""),
      token: v.token,
      beat: Number(v.beat ?? 0),
    };
  } catch {
    return null;
  }
}

/**
 * Whether a holder on this machine is gone: its pid is not running, or runs another process
 * (a different start time), or the machine rebooted since. Null when it is not of this machine.
 */
function localHolderGone(o: EnvLockOwner, host: string, boot: string): boolean | null {
  if (o.host !== host) return null;
  if (o.boot && boot && o.boot !== boot) return true;
  try {
    process.kill(o.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") return true;
  }
  const start = processStart(o.pid);
  return Boolean(o.start && start && o.start !== start);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readText(path: string): Promise<string | null> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
}

/**
 * Take the lock that lets one process, on any machine that sees the directory, build an
 * environment: a lock file created with O_CREAT|O_EXCL (atomic on local file systems and on NFSv3+,
 * Lustre, GPFS, CephFS), holding its owner (host, boot id, pid, process start time) and a beat
 * the holder renews. A waiter takes over a dead holder's lock: one of this machine at once
 * (process gone, pid reused, rebooted), one of another machine when its lock has not changed for
 * `staleMs`. The takeover itself is guarded by a second O_EXCL file, so two waiters never both
 * remove a lock (one of them could otherwise remove the other's fresh lock).
 *
 * Resolves null when `done()` became true while waiting (another process finished the build).
 */
export async function acquireEnvLock(options: EnvLockOptions): Promise<EnvLockHandle | null> {
  const host = options.host ?? hostname();
  const boot = bootId();
  const beatMs = options.beatMs ?? 5000;
  const staleMs = options.staleMs ?? 60_000;
  const pollMs = options.pollMs ?? 500;
  const path = options.path;
  const guard = `${path}.takeover`;
  const owner: EnvLockOwner = {
    host,
    boot,
    pid: process.pid,
    start: processStart(process.pid),
    token: randomBytes(12).toString("hex"),
    beat: 0,
  };
  let waited = false;
  // what this process saw of the current holder's lock, and since when (its own clock)
  let seen: { text: string; since: number } | null = null;
  let seenGuard: { since: number } | null = null;
  for (;;) {
    if (options.done?.()) return null;
    try {
      const fh = await open(path, "wx", 0o644);
      try {
        await fh.writeFile(JSON.stringify(owner));
      } finally {
        await fh.close();
      }
      return hold(path, owner, beatMs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const text = await readText(path);
    if (text === null) continue; // released just now
    const holder = parseOwner(text);
    const now = Date.now();
    if (!seen || seen.text !== text) seen = { text, since: now };
    const gone = holder ? localHolderGone(holder, host, boot) : null;
    // a lock file not written yet (or garbled) counts as another machine's: stale only if it stays so
    const stale = gone ?? now - seen.since >= staleMs;
    if (stale) {
      // take the guard, check that the lock is still the one judged stale, remove it
      let guarded = false;
      try {
        const g = await open(guard, "wx", 0o644);
        await g.writeFile(JSON.stringify(owner));
        await g.close();
        guarded = true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
        // a guard whose taker died within its few milliseconds of work: removed after staleMs
        seenGuard ??= { since: now };
        if (now - seenGuard.since >= staleMs) {
          await rm(guard, { force: true });
          seenGuard = null;
        }
      }
      if (guarded) {
        try {
          if ((await readText(path)) === text) await rm(path, { force: true });
        } finally {
          await rm(guard, { force: true });
        }
        seen = null;
        continue;
      }
    }
    if (!waited) {
      waited = true;
      options.onWait?.(holder);
    }
    await sleep(pollMs);
  }
}

function hold(path: string, owner: EnvLockOwner, beatMs: number): EnvLockHandle {
  let beating: Promise<void> | null = null;
  const timer = setInterval(() => {
    if (beating) return;
    beating = (async () => {
      // renew only a lock that is still ours (a holder stalled past staleMs may have lost it)
      const text = await readText(path);
      if (!text || parseOwner(text)?.token !== owner.token) return;
      owner.beat++;
      await writeFile(path, JSON.stringify(owner));
    })()
      .catch(() => {})
      .finally(() => {
        beating = null;
      });
  }, beatMs);
  timer.unref();
  return {
    owner,
    async release() {
      clearInterval(timer);
      await beating;
      const text = await readText(path).catch(() => null);
      if (text && parseOwner(text)?.token === owner.token) await rm(path, { force: true });
    },
  };
}

/** The holder of a lock file, if any (for messages and tests). */
export async function envLockOwner(path: string): Promise<EnvLockOwner | null> {
  const text = await readText(path);
  return text === null ? null : parseOwner(text);
}
