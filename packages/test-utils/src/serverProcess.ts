import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";

/** The command line that runs @mlenv/server's src/internal/serveMain.ts (what `mlenv server` runs) with `args`. */
export function serveMainCommand(...args: string[]): [string, ...string[]] {
  return [
    process.execPath,
    "--import",
    "tsx",
    "--conditions=@mlenv/source",
    join(import.meta.dirname, "..", "..", "server", "src", "internal", "serveMain.ts"),
    ...args,
  ];
}

/** How long a spawned server may take to say that it listens. */
const START_TIMEOUT_MS = 60_000;

/** A server running in its own process. */
export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Graceful stop (SIGTERM). */
  stop: () => Promise<void>;
  /** Crash (SIGKILL: nothing is released or flushed). */
  crash: () => Promise<void>;
}

/**
 * Start the server (serveMain.ts, see {@link serveMainCommand}) in its own process with `env` added
 * to this one's; resolves once it prints `listening <url>` (killed when it has not within a
 * minute). With `uid` it runs as that (unprivileged) user: setpriv drops root before node starts.
 */
export async function spawnServer(
  env: Record<string, string>,
  options: { uid?: number } = {},
): Promise<ServerProcess> {
  const node = serveMainCommand();
  const argv =
    options.uid === undefined
      ? node
      : [
          "setpriv",
          "--reuid",
          String(options.uid),
          "--regid",
          String(options.uid),
          "--clear-groups",
          ...node,
        ];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    // one that neither listens nor exits is killed, not left running after the test
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`server process not listening after ${START_TIMEOUT_MS} ms: ${stderr.slice(0, 2000)}`),
      );
    }, START_TIMEOUT_MS);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server process exited with ${code}: ${stderr.slice(0, 2000)}`));
    });
  });
  const signal = (sig: NodeJS.Signals) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill(sig);
    });
  return {
    url,
    pid: child.pid ?? 0,
    child,
    stop: () => signal("SIGTERM"),
    crash: () => signal("SIGKILL"),
  };
}
