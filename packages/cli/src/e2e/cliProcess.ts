/**
 * Run `mlenv` as a real process (node on src/bin.ts through tsx, what `pnpm mlenv` runs): through
 * pipes, or on a pseudo-terminal made by util-linux `script`, the way a user sees it. Test-only.
 */
import { spawn, spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const repoRoot = join(import.meta.dirname, "..", "..", "..", "..");
const bin = join(repoRoot, "packages", "cli", "src", "bin.ts");
const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;

/** The node command line that runs the CLI from source (any working directory). */
export function cliCommand(argv: readonly string[]): string[] {
  return [process.execPath, "--import", tsx, "--conditions=@mlenv/source", bin, ...argv];
}

export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  /** Text on standard input (default: none). */
  input?: string;
}

function baseEnv(env: Record<string, string | undefined>): Record<string, string> {
  // A clean environment: only what the CLI and node need, plus the test's own variables.
  const out: Record<string, string> = { PATH: process.env.PATH ?? "/usr/bin:/bin", TERM: "xterm-256color" };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Run a shell command line (e.g. a pipeline) with the environment of {@link baseEnv}. */
export function runShell(script: string, options: RunOptions): Promise<ProcessRun> {
  return collectOutput(
    spawn("bash", ["--norc", "--noprofile", "-c", script], {
      cwd: options.cwd,
      env: baseEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    }),
    options.input,
  );
}

/** Run the CLI with stdout and stderr as pipes (not terminals). */
export function runThroughPipes(argv: readonly string[], options: RunOptions): Promise<ProcessRun> {
  const [cmd, ...args] = cliCommand(argv);
  return collectOutput(
    spawn(cmd as string, args, {
      cwd: options.cwd,
      env: baseEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    }),
    options.input,
  );
}

/** Wait for `child` to end, collecting its output; `input` is written to its standard input (if a pipe). */
export function collectOutput(child: ReturnType<typeof spawn>, input?: string): Promise<ProcessRun> {
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d) => {
    stdout += d;
  });
  child.stderr?.on("data", (d) => {
    stderr += d;
  });
  child.stdin?.end(input ?? "");
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Why terminal tests cannot run here (util-linux `script` missing), or null. */
export function scriptMissing(): string | null {
  const r = spawnSync("script", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? null : "util-linux `script` is not installed (apt-get install bsdutils)";
}

/** POSIX shell quoting of one word. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

export interface TerminalRun {
  code: number | null;
  /** Everything written to the terminal (stdout and stderr together), bytes as sent. */
  raw: string;
  /** What the terminal shows at the end: see {@link screenText}. */
  screen: string;
}

/**
 * Run the CLI with stdout and stderr on one pseudo-terminal (util-linux `script -q -e -c`), as a
 * user at a terminal sees it.
 */
export async function runOnTerminal(argv: readonly string[], options: RunOptions): Promise<TerminalRun> {
  const line = cliCommand(argv).map(shellQuote).join(" ");
  const r = await collectOutput(
    spawn("script", ["-q", "-e", "-f", "-c", line, "/dev/null"], {
      cwd: options.cwd,
      env: baseEnv(options.env),
      stdio: ["pipe", "pipe", "pipe"],
    }),
    options.input,
  );
  return { code: r.code, raw: r.stdout, screen: screenText(r.stdout) };
}

/**
 * The text a terminal shows after `raw` was written to it: `\r\n` ends a line, a lone `\r`
 * returns to the line's start (later text overwrites), `ESC[K` erases to the end of the line.
 * Colour sequences (`ESC[...m`) are kept unless `stripColour`.
 */
export function screenText(raw: string, options: { stripColour?: boolean } = {}): string {
  const lines: string[] = [];
  let cur: string[] = [];
  let col = 0;
  // Colour sequences take no column: they stick to the character after them.
  let pendingStyle = "";
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c === "\x1b") {
      const m = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(raw.slice(i));
      if (m) {
        i += m[0].length - 1;
        if (m[2] === "K") {
          cur = cur.slice(0, col);
          pendingStyle = "";
        } else if (m[2] === "m" && !options.stripColour) pendingStyle += m[0];
        continue;
      }
    }
    if (c === "\n") {
      lines.push(cur.join("") + pendingStyle);
      pendingStyle = "";
      cur = [];
      col = 0;
      continue;
    }
    if (c === "\r" && raw[i + 1] !== "\n") {
      col = 0;
      pendingStyle = "";
      continue;
    }
    if (c === "\r") continue;
    cur[col] = pendingStyle + c;
    pendingStyle = "";
    col++;
  }
  const last = cur.join("") + pendingStyle;
  if (last) lines.push(last);
  return lines.map((l) => `${l}\n`).join("");
}
