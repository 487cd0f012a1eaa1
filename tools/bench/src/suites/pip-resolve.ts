/**
 * pip resolution against a loopback PEP 691/503 index of real wheels: ours (fresh index client
 * each run: fetch project pages and PEP 658 metadata, resolve) vs the machine's
 * `pip install --dry-run --report` on the same index. Two figures, labelled: warm in-process
 * (ours in this already-running, JIT-warm process vs a pip subprocess, start-up included: this
 * flatters us) and whole process against whole process (a fresh node process resolving once,
 * start-up and module loading included, vs the same pip subprocess). Also compares the chosen versions and
 * reports the peak RSS of one resolve in a child process (MLENV_BENCH_PIP_CHILD=1).
 */
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { defaultPipSemantics, httpPypiIndex, indexCandidateSource, resolvePip } from "@mlenv/resolver";
import { buildWheel, type IndexFile, servePypiIndex } from "@mlenv/test-utils";
import { type BenchSuite, median, timeRuns } from "../harness";

const run = promisify(execFile);

/**
 * A layered universe: 40 projects x 12 versions. Layer k projects depend on two projects of
 * layer k+1 with ranges that force backtracking away from the newest versions now and then.
 */
function universe(): Record<string, IndexFile[]> {
  const projects: Record<string, IndexFile[]> = {};
  const layers = 4;
  const perLayer = 10;
  for (let l = 0; l < layers; l++) {
    for (let i = 0; i < perLayer; i++) {
      const name = `pkg-l${l}-${i}`;
      const files: IndexFile[] = [];
      for (let v = 1; v <= 12; v++) {
        const deps: string[] = [];
        if (l + 1 < layers) {
          const a = `pkg-l${l + 1}-${(i + v) % perLayer}`;
          const b = `pkg-l${l + 1}-${(i * 3 + 1) % perLayer}`;
          deps.push(`${a}>=${Math.max(1, v - 4)}`);
          deps.push(v % 4 === 0 ? `${b}<${v}` : `${b}>=1`);
          if (v % 5 === 0) deps.push(`requests-like[socks]>=2 ; python_version >= "3.8"`);
        }
        files.push({ wheel: buildWheel({ name, version: `${v}.0`, requiresDist: deps, level: 0 }) });
      }
      projects[name] = files;
    }
  }
  projects["requests-like"] = [1, 2, 3].map((v) => ({
    wheel: buildWheel({
      name: "requests-like",
      version: `${v}.0`,
      requiresDist: ['pkg-l3-0>=2 ; extra == "socks"'],
      level: 0,
    }),
  }));
  return projects;
}

const SETS: string[][] = [
  ["pkg-l0-0"],
  ["pkg-l0-1", "pkg-l0-2", "pkg-l1-3<9"],
  ["pkg-l0-3", "pkg-l0-4", "pkg-l0-5", "pkg-l0-6", "pkg-l2-7<6"],
];

const PY = "3.11.7";

async function ours(url: string, reqs: string[]) {
  const index = httpPypiIndex(url);
  const target = { python: PY, platform: "linux-64" };
  return resolvePip({
    requirements: reqs,
    source: indexCandidateSource(index, target),
    target,
    semantics: defaultPipSemantics,
  });
}

async function pip(url: string, reqs: string[]): Promise<Record<string, string>> {
  const { stdout } = await run(
    "python3",
    [
      "-m",
      "pip",
      "install",
      "--dry-run",
      "--ignore-installed",
      "--no-cache-dir",
      "--quiet",
      "--disable-pip-version-check",
      "--report",
      "-",
      "--index-url",
      url,
      ...reqs,
    ],
    { maxBuffer: 64 << 20, env: { ...process.env, PIP_NO_INPUT: "1", PIP_CONFIG_FILE: "/dev/null" } },
  );
  const report = JSON.parse(stdout) as { install: { metadata: { name: string; version: string } }[] };
  return Object.fromEntries(report.install.map((i) => [i.metadata.name.toLowerCase(), i.metadata.version]));
}

async function child(): Promise<void> {
  const [url, reqs, mode] = process.argv.slice(2) as [string, string, string | undefined];
  if (mode !== "baseline") await ours(url, JSON.parse(reqs) as string[]);
  process.stdout.write(`${process.resourceUsage().maxRSS}\n`);
}

function peakRss(url: string, reqs: string[], mode = "resolve"): Promise<number> {
  return childRun(url, reqs, mode).then((r) => r.rss);
}

/** One child process from spawn to exit: its peak RSS (MiB) and wall time (ms). */
function childRun(url: string, reqs: string[], mode = "resolve"): Promise<{ rss: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=@mlenv/source",
        fileURLToPath(import.meta.url),
        url,
        JSON.stringify(reqs),
        mode,
      ],
      { env: { ...process.env, MLENV_BENCH_PIP_CHILD: "1" }, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    p.stdout.on("data", (d) => {
      out += String(d);
    });
    p.on("error", reject);
    p.on("exit", (code) =>
      code === 0
        ? resolve({ rss: Number(out.trim()) / 1024, ms: performance.now() - t0 })
        : reject(new Error(`child exit ${code}`)),
    );
  });
}

export const suite: BenchSuite = {
  name: "pip-resolve",
  async run(ctx) {
    try {
      await run("python3", ["-m", "pip", "--version"]);
    } catch {
      ctx.log("pip-resolve skipped: python3 -m pip is not available");
      return;
    }
    const server = await servePypiIndex({ projects: universe() });
    try {
      const ratios: number[] = [];
      const wholeRatios: number[] = [];
      for (const reqs of SETS) {
        const mine = Object.fromEntries(
          (await ours(server.url, reqs)).packages.map((p) => [p.name, p.version]),
        );
        const theirs = await pip(server.url, reqs);
        const differ = Object.keys({ ...mine, ...theirs }).filter((k) => mine[k] !== theirs[k]);
        const tOurs = await timeRuns(() => ours(server.url, reqs), { runs: 7, warmup: 2 });
        const tPip = await timeRuns(() => pip(server.url, reqs), { runs: 3, warmup: 1 });
        const mo = median(tOurs);
        const mp = median(tPip);
        ratios.push(mo / mp);
        const whole: number[] = [];
        for (let i = 0; i < 3; i++) whole.push((await childRun(server.url, reqs)).ms);
        const mw = median(whole);
        wholeRatios.push(mw / mp);
        ctx.compare({
          bench: `pip-resolve whole-process ${reqs.join(" ")}`.slice(0, 60),
          ours: mw,
          peer: "pip install --dry-run --report",
          theirs: mp,
          unit: "ms",
          extra: {
            measured:
              "whole process vs whole process: a fresh node process (started through tsx from TypeScript source, so module transpiling is included) vs a pip subprocess",
          },
        });
        ctx.compare({
          bench: `pip-resolve warm-in-process ${reqs.join(" ")}`.slice(0, 60),
          ours: mo,
          peer: "pip install --dry-run --report",
          theirs: mp,
          unit: "ms",
          extra: {
            measured:
              "ours warm in this process (JIT warm, no start-up) vs a pip subprocess (start-up included)",
            packages: Object.keys(mine).length,
            sameAsPip:
              differ.length === 0
                ? "yes"
                : differ
                    .slice(0, 5)
                    .map((k) => `${k}:${mine[k]}/${theirs[k]}`)
                    .join(","),
            peakRssOursMiB: Math.round(await peakRss(server.url, reqs)),
            idleProcessRssMiB: Math.round(await peakRss(server.url, reqs, "baseline")),
          },
        });
      }
      ctx.report({
        bench: "pip-resolve warm-in-process median ratio",
        value: Number(median(ratios).toFixed(4)),
        unit: "x pip (ours warm in process, pip a subprocess)",
      });
      ctx.report({
        bench: "pip-resolve whole-process median ratio",
        value: Number(median(wholeRatios).toFixed(4)),
        unit: "x pip (process vs process)",
        target: 0.1,
      });
    } finally {
      await server.close();
    }
  },
};

if (process.env.MLENV_BENCH_PIP_CHILD === "1" && process.argv[1] === fileURLToPath(import.meta.url)) {
  await child();
}
