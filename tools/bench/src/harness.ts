import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";

/** One comparison line of `pnpm bench --json`. ratio = ours / theirs (lower is better for times). */
export interface Comparison {
  bench: string;
  ours: number;
  peer: string;
  theirs: number;
  ratio: number;
  unit: string;
  /** Free-form figures that are reported but not compared (p99, RSS, sizes...). */
  extra?: Record<string, number | string>;
}

/** A measurement with no peer (e.g. a bundle size against a target). */
export interface Report {
  bench: string;
  value: number;
  unit: string;
  target?: number;
  extra?: Record<string, number | string>;
}

export interface BenchContext {
  /** Record a ratio against a named peer measured in this same run. */
  compare(c: Omit<Comparison, "ratio">): void;
  /** Record a standalone figure. */
  report(r: Report): void;
  /** Print a human progress line (stderr in --json mode). */
  log(line: string): void;
}

export interface BenchSuite {
  name: string;
  /** Components this suite needs (e.g. "postgres", "docker"); missing ones skip it loudly. */
  requires?: string[];
  run(ctx: BenchContext): Promise<void>;
}

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Percentile (0..100) by nearest rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}

/** Time fn() `runs` times after `warmup` runs; returns each run's milliseconds. */
export async function timeRuns(
  fn: () => unknown,
  opts: { runs?: number; warmup?: number } = {},
): Promise<number[]> {
  const { runs = 5, warmup = 1 } = opts;
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/**
 * How busy the machine was: 1-minute load average, cores, and whether the figures are noisy
 * (load above the core count means other work was competing for the CPUs). Every bench line
 * carries this (main.ts adds it), since latencies and throughputs on a shared machine swing with it.
 */
export function machineLoad(): { loadavg_1m: number; cores: number; noisy: string } {
  const load1 = Number((loadavg()[0] ?? 0).toFixed(2));
  const cores = cpus().length;
  return { loadavg_1m: load1, cores, noisy: load1 > cores ? `yes (load ${load1} on ${cores} cores)` : "no" };
}

/**
 * Run the bench module `moduleUrl` (pass `import.meta.url`) again in a fresh Node process, as
 * `pnpm bench` runs it (tsx, source condition), with `args` and `env` added; resolves with its
 * stdout when it exits 0. For figures that must start cold: empty caches, a fresh JIT, its own peak
 * RSS. The module sees itself started this way through {@link isBenchChild}.
 */
export function runBenchChild(
  moduleUrl: string,
  args: string[],
  env: Record<string, string>,
): Promise<string> {
  const file = fileURLToPath(moduleUrl);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--import", "tsx", "--conditions=@mlenv/source", file, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d) => {
      out += String(d);
    });
    p.on("error", reject);
    p.on("exit", (code) => {
      if (code === 0) resolve(out);
      else
        reject(new Error(`${basename(file)} child (${args[0]}) exited with ${code}: ${out.slice(0, 200)}`));
    });
  });
}

/** True in a process that {@link runBenchChild} started for `moduleUrl` with `flag` set to "1". */
export function isBenchChild(moduleUrl: string, flag: string): boolean {
  return process.env[flag] === "1" && process.argv[1] === fileURLToPath(moduleUrl);
}
