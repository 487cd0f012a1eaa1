import { type ChildProcess, spawn } from "node:child_process";

/** A line of a child's output. */
export type LineSink = (stream: "stdout" | "stderr", text: string) => void;

/** Split a stream into lines (a trailing partial line is flushed at the end). */
function lines(source: NodeJS.ReadableStream | null, onLine: (text: string) => void): Promise<void> {
  return new Promise((resolve) => {
    if (!source) return resolve();
    let buf = "";
    source.setEncoding("utf8");
    source.on("data", (chunk: string) => {
      buf += chunk;
      let i = buf.indexOf("\n");
      while (i >= 0) {
        onLine(buf.slice(0, i).replace(/\r$/, ""));
        buf = buf.slice(i + 1);
        i = buf.indexOf("\n");
      }
      // a very long line without a newline is flushed in pieces
      if (buf.length > 64 * 1024) {
        onLine(buf);
        buf = "";
      }
    });
    source.on("end", () => {
      if (buf) onLine(buf);
      resolve();
    });
    source.on("error", () => resolve());
  });
}

export interface SpawnedProcess {
  child: ChildProcess;
  /** Exit code (or 128 + signal number style: null code means killed by `signal`). */
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Start a program with an argument vector (never a shell) in its own process group, feeding its
 * output line by line to `sink`. `killTree` stops the whole group.
 */
export function spawnLogged(options: {
  command: string;
  args: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  sink: LineSink;
}): SpawnedProcess {
  const child = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const out = lines(child.stdout, (t) => options.sink("stdout", t));
  const err = lines(child.stderr, (t) => options.sink("stderr", t));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("error", (e) => {
      options.sink("stderr", `could not start ${options.command}: ${e.message}`);
      resolve({ code: 127, signal: null });
    });
    child.once("close", (code, signal) => {
      void Promise.all([out, err]).then(() => resolve({ code, signal }));
    });
  });
  return { child, done };
}

/** Send `signal` to the process group of `pid` (its children included); ignore a gone group. */
export function killTree(pid: number, signal: NodeJS.Signals = "SIGTERM"): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {}
  }
}

/** Terminate a process group: SIGTERM, then SIGKILL after `graceMs` if it has not exited. */
export async function stopTree(p: SpawnedProcess, graceMs = 3000): Promise<void> {
  const pid = p.child.pid;
  if (pid === undefined) return;
  killTree(pid, "SIGTERM");
  const timer = setTimeout(() => killTree(pid, "SIGKILL"), graceMs);
  await p.done;
  clearTimeout(timer);
  // children that ignored SIGTERM and outlived the leader
  killTree(pid, "SIGKILL");
}

/** Run to completion, collecting output (for short helper commands). */
export async function runCollect(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; sink?: LineSink },
): Promise<{ code: number | null; output: string[] }> {
  const output: string[] = [];
  const p = spawnLogged({
    command,
    args,
    cwd: options.cwd,
    env: options.env ?? process.env,
    sink: (s, t) => {
      output.push(t);
      options.sink?.(s, t);
    },
  });
  const { code } = await p.done;
  return { code, output };
}
