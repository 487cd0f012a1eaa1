/**
 * pip resolution against loopback PEP 691/503 indexes of real wheels with PEP 658 metadata,
 * served by this process: a small layered index (40 projects) and a PyPI-shaped one (thousands
 * of projects and packse-like backtracking scenarios, ../pypiUniverse.ts). Ours vs the machine's
 * `pip install --dry-run --report`, the same requirements against the same index, both cold.
 *
 * Two kinds of lines, each saying which it is:
 * - `whole-process`: the command a user runs to lock, from start to exit, against pip's whole
 *   process. Ours is the BUILT CLI (`node packages/cli/bin/mlenv.js env lock`, dist/, as
 *   installed) with an empty cache folder, locking a definition whose pip block holds the
 *   requirements (it also solves its conda part, python and pip from a loopback channel, and
 *   writes mlenv.lock: more work than pip does). pip is the real interpreter (no pyenv shim)
 *   running `-m pip --isolated` (no configuration, no PIP_* variables such as find-links) with
 *   `--no-cache-dir`. Rounds interleave ours and pip so machine load hits both alike.
 * - `warm-in-process`: our resolver called in this already-running, JIT-warm process (a fresh
 *   index client each run, so nothing fetched is reused) against the same pip subprocess: this
 *   flatters us, it is here to show what start-up costs.
 *
 * Each solution is checked against the index's metadata (every root requirement and every
 * chosen release's Requires-Dist, markers and extras evaluated for the target, satisfied), and
 * where ours and pip's differ the line says which package each side kept newer and by which rule.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { canonicalizeName as normalizeProjectName, SpecifierSet } from "@mlenv/core";
import {
  defaultPipSemantics,
  httpPypiIndex,
  indexCandidateSource,
  markerEnvironment,
  parseCoreMetadata,
  parseWheelFilename,
  resolvePip,
} from "@mlenv/resolver";
import { buildWheel, type IndexFile, serveCondaChannel, servePypiIndex } from "@mlenv/test-utils";
import { type BenchContext, type BenchSuite, median } from "../harness";
import { pypiUniverse } from "../pypiUniverse";
import { ensureBuilt } from "./cli";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, "../../../..");
const bin = join(repo, "packages", "cli", "bin", "mlenv.js");

/** Rounds per set: ours and pip interleaved (pip's first `PIP_ROUNDS` rounds only). */
const ROUNDS = 5;
const PIP_ROUNDS = 3;
/** A pip run that takes longer than this is stopped and reported as at least this long. */
const PIP_LIMIT_MS = 180_000;

/**
 * A layered universe: 40 projects x 12 versions. Layer k projects depend on two projects of
 * layer k+1 with ranges that force backtracking away from the newest versions now and then.
 */
function layered(): Record<string, IndexFile[]> {
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

const LAYERED_SETS: { name: string; requirements: string[] }[] = [
  { name: "one root", requirements: ["pkg-l0-0"] },
  { name: "three roots", requirements: ["pkg-l0-1", "pkg-l0-2", "pkg-l1-3<9"] },
  { name: "five roots", requirements: ["pkg-l0-3", "pkg-l0-4", "pkg-l0-5", "pkg-l0-6", "pkg-l2-7<6"] },
];

type Solution = Record<string, string>;

interface Python {
  executable: string;
  version: string;
}

async function findPython(): Promise<Python | null> {
  try {
    const { stdout } = await run("python3", [
      "-c",
      "import sys, platform; print(sys.executable); print(platform.python_version())",
    ]);
    const [executable, version] = stdout.trim().split("\n") as [string, string];
    await run(executable, ["-m", "pip", "--version"]);
    return { executable, version };
  } catch {
    return null;
  }
}

interface Ran {
  ms: number;
  stdout: string;
  stderr: string;
  code: number | null;
  timedOut: boolean;
}

/** One process from spawn to exit: wall time, output and exit code. */
function timed(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env: NodeJS.ProcessEnv; limitMs?: number },
): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = opts.limitMs
      ? setTimeout(() => {
          timedOut = true;
          p.kill("SIGKILL");
        }, opts.limitMs)
      : undefined;
    p.stdout.on("data", (d) => {
      stdout += String(d);
    });
    p.stderr.on("data", (d) => {
      stderr += String(d);
    });
    p.on("error", reject);
    p.on("close", (code) => {
      clearTimeout(timer);
      resolve({ ms: performance.now() - t0, stdout, stderr, code, timedOut });
    });
  });
}

/** Our lock: fails the bench when it fails. */
async function ours(dir: string): Promise<Ran> {
  const r = await timed(process.execPath, lockArgs(), { cwd: dir, env: coldEnv(dir) });
  if (r.code !== 0) throw new Error(`mlenv env lock exited ${r.code}: ${r.stderr.slice(-800)}`);
  return r;
}

/** pip's answer: a solution, or why it gave none (its first ERROR line, or the time limit). */
function pipOutcome(r: Ran): { solution: Solution } | { failed: string } {
  if (r.timedOut) return { failed: `stopped after ${PIP_LIMIT_MS / 1000} s` };
  if (r.code !== 0) {
    const line = r.stderr.split("\n").find((l) => l.startsWith("ERROR")) ?? r.stderr.slice(-200);
    return { failed: `pip exited ${r.code}: ${line.trim().slice(0, 200)}` };
  }
  return { solution: pipSolution(r.stdout) };
}

/** Peak RSS (MiB) of one run of a command, through GNU time when the machine has it. */
async function peakRssMiB(cmd: string, args: string[], opts: { cwd?: string; env: NodeJS.ProcessEnv }) {
  if (!existsSync("/usr/bin/time")) return "n/a (no /usr/bin/time)";
  return new Promise<number | string>((resolve) => {
    const p = spawn("/usr/bin/time", ["-f", "MLENV_RSS %M", cmd, ...args], {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    p.stderr.on("data", (d) => {
      err += String(d);
    });
    p.on("close", () => {
      const kb = /MLENV_RSS (\d+)/.exec(err)?.[1];
      resolve(kb ? Math.round(Number(kb) / 1024) : "n/a");
    });
  });
}

/** The environment pip runs in: none of the machine's PIP_* settings (find-links, extra indexes). */
function pipEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("PIP_")) env[k] = v;
  return { ...env, PIP_NO_INPUT: "1", PIP_CONFIG_FILE: "/dev/null" };
}

function pipArgs(url: string, reqs: string[]): string[] {
  return [
    "-m",
    "pip",
    "--isolated",
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
  ];
}

function pipSolution(stdout: string): Solution {
  const report = JSON.parse(stdout) as { install: { metadata: { name: string; version: string } }[] };
  return Object.fromEntries(
    report.install.map((i) => [normalizeProjectName(i.metadata.name), i.metadata.version]),
  );
}

/** A definition folder whose pip block holds `reqs`, locked by the CLI. */
function definition(channel: string, index: string, python: string, reqs: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "mlenv-bench-pip-"));
  writeFileSync(
    join(dir, "environment.yml"),
    [
      "name: bench",
      "channels:",
      `  - ${channel}`,
      "dependencies:",
      `  - python=${python}`,
      "  - pip",
      "  - pip:",
      `    - --index-url ${index}`,
      ...reqs.map((r) => `    - ${JSON.stringify(r)}`),
      "",
    ].join("\n"),
  );
  return dir;
}

/** `mlenv env lock` of the definition in `dir`, cold: a fresh cache folder and HOME. */
function lockArgs(): string[] {
  return [bin, "env", "lock", "-d", "environment.yml", "--platform", "linux-64", "--json", "-q"];
}

function coldEnv(dir: string): NodeJS.ProcessEnv {
  const cache = mkdtempSync(join(dir, "cache-"));
  return { ...process.env, HOME: dir, XDG_CACHE_HOME: cache, NO_COLOR: "1" };
}

function oursSolution(stdout: string): Solution {
  const lock = JSON.parse(stdout) as {
    platforms: Record<string, { pip: { name: string; version: string }[] }>;
  };
  return Object.fromEntries(
    (lock.platforms["linux-64"]?.pip ?? []).map((p) => [normalizeProjectName(p.name), p.version]),
  );
}

/**
 * What a solution leaves unsatisfied against the index's metadata: root requirements and every
 * chosen release's Requires-Dist (markers for the target, extras that are asked for).
 */
function unsatisfied(
  projects: Record<string, IndexFile[]>,
  roots: string[],
  chosen: Solution,
  env: Record<string, string>,
): string[] {
  const byName = new Map<string, IndexFile[]>();
  for (const [n, files] of Object.entries(projects)) byName.set(normalizeProjectName(n), files);
  const metadata = (name: string, version: string) => {
    const f = byName
      .get(name)
      ?.find((x) => parseWheelFilename(x.wheel.filename)?.version === version && x.wheel.metadata);
    return f?.wheel.metadata ? parseCoreMetadata(f.wheel.metadata, f.wheel.filename) : null;
  };
  const problems: string[] = [];
  const check = (text: string, extra: string, from: string) => {
    const r = defaultPipSemantics.parseRequirement(text);
    if (r.marker && !r.marker.evaluate({ ...env, extra })) return;
    const name = normalizeProjectName(r.name);
    const v = chosen[name];
    if (v === undefined) return void problems.push(`${from} needs ${text}: ${name} not chosen`);
    if (!new SpecifierSet(r.specifier).contains(v, { prereleases: true }))
      problems.push(`${from} needs ${text}: ${name} ${v} chosen`);
    for (const e of r.extras) {
      for (const line of metadata(name, v)?.requiresDist ?? []) {
        const x = defaultPipSemantics.parseRequirement(line);
        if (x.marker?.evaluate({ ...env, extra: e }) && !x.marker.evaluate({ ...env, extra: "" }))
          check(line, e, `${name}[${e}] ${v}`);
      }
    }
  };
  for (const t of roots) check(t, "", "the root");
  for (const [name, v] of Object.entries(chosen)) {
    const m = metadata(name, v);
    if (!m) {
      problems.push(`${name} ${v}: no such release on the index`);
      continue;
    }
    if (m.requiresPython && !new SpecifierSet(m.requiresPython).contains(env.python_full_version ?? ""))
      problems.push(`${name} ${v} requires Python ${m.requiresPython}`);
    for (const line of m.requiresDist) check(line, "", `${name} ${v}`);
  }
  return problems;
}

/** Which packages each side kept newer, and the rule that made ours differ. */
function difference(ours: Solution, pip: Solution): { same: boolean; text: string } {
  const names = [...new Set([...Object.keys(ours), ...Object.keys(pip)])].sort();
  const newerOurs: string[] = [];
  const newerPip: string[] = [];
  const other: string[] = [];
  for (const n of names) {
    const a = ours[n];
    const b = pip[n];
    if (a === b) continue;
    if (a === undefined || b === undefined) other.push(`${n}: ${a ?? "-"} / ${b ?? "-"}`);
    else {
      const c = new SpecifierSet(`>${b}`).contains(a, { prereleases: true });
      (c ? newerOurs : newerPip).push(`${n} ${a} vs ${b}`);
    }
  }
  if (!newerOurs.length && !newerPip.length && !other.length) return { same: true, text: "same as pip" };
  const parts = [
    newerOurs.length ? `ours newer: ${newerOurs.slice(0, 4).join(", ")}` : "",
    newerPip.length ? `pip newer: ${newerPip.slice(0, 4).join(", ")}` : "",
    other.length ? `only one side: ${other.slice(0, 4).join(", ")}` : "",
  ].filter(Boolean);
  return {
    same: false,
    text: `${parts.join("; ")}. Both take the newest fitting version of the package they decide next; ours decides the open requirement with the fewest candidates left first (root requirements in the order given on ties, a package rejected 5 times by earlier decisions moves first, like uv), pip (resolvelib, by pip's get_preference) decides pinned (==) requirements first, then packages that caused backtracking, then the shallowest in the dependency tree (breadth first), then in the order requested, so each keeps different packages newest`,
  };
}

interface Served {
  label: string;
  url: string;
  projects: Record<string, IndexFile[]>;
  sets: { name: string; requirements: string[] }[];
}

async function measureSet(
  ctx: BenchContext,
  s: Served,
  set: { name: string; requirements: string[] },
  env: { channel: string; python: Python; target: Record<string, string> },
): Promise<{ whole: number; warm: number }> {
  const reqs = set.requirements;
  const dir = definition(env.channel, s.url, env.python.version, reqs);
  const pyEnv = pipEnv();
  try {
    // one untimed run of each: the solutions, and every project page the server renders once
    const mine = oursSolution((await ours(dir)).stdout);
    const pipFirst = pipOutcome(
      await timed(env.python.executable, pipArgs(s.url, reqs), { env: pyEnv, limitMs: PIP_LIMIT_MS }),
    );
    const theirs = "solution" in pipFirst ? pipFirst.solution : null;
    const badOurs = unsatisfied(s.projects, reqs, mine, env.target);
    const badPip = theirs ? unsatisfied(s.projects, reqs, theirs, env.target) : [];
    const diff = theirs
      ? difference(mine, theirs)
      : { same: false, text: `pip found no solution (${"failed" in pipFirst ? pipFirst.failed : ""})` };

    const oursMs: number[] = [];
    const pipMs: number[] = [];
    let pipTimedOut = false;
    for (let round = 0; round < ROUNDS; round++) {
      oursMs.push((await ours(dir)).ms);
      if (round < PIP_ROUNDS && !pipTimedOut) {
        const p = await timed(env.python.executable, pipArgs(s.url, reqs), {
          env: pyEnv,
          limitMs: PIP_LIMIT_MS,
        });
        pipTimedOut ||= p.timedOut;
        pipMs.push(p.ms);
      }
    }
    const mo = median(oursMs);
    const mp = pipTimedOut ? PIP_LIMIT_MS : median(pipMs);
    const ok = "yes (every requirement satisfied)";
    const valid = {
      oursValid: badOurs.length ? `NO: ${badOurs.slice(0, 3).join("; ")}` : ok,
      pipValid:
        "failed" in pipFirst
          ? `no solution: ${pipFirst.failed}`
          : badPip.length
            ? `NO: ${badPip.slice(0, 3).join("; ")}`
            : ok,
    };
    ctx.compare({
      bench: `pip-resolve whole-process ${s.label}: ${set.name}`,
      ours: Number(mo.toFixed(1)),
      peer: `${pipTimedOut ? "(timed out, at least) " : ""}pip install --dry-run --report (whole process)`,
      theirs: Number(mp.toFixed(1)),
      unit: "ms",
      extra: {
        measured:
          "whole process vs whole process, both cold: node packages/cli/bin/mlenv.js env lock (built dist/, empty cache folder; also solves python+pip from a loopback conda channel and writes mlenv.lock) vs python -m pip --isolated --no-cache-dir (the real interpreter, no shim); same loopback index with PEP 658 metadata, same requirements",
        target: 0.1,
        requirements: reqs.join(" ").slice(0, 200),
        packages: Object.keys(mine).length,
        rounds: `${oursMs.length} ours, ${pipMs.length} pip, interleaved`,
        ...valid,
        sameAsPip: diff.same ? "yes" : theirs ? "no" : "pip found none",
        ...(diff.same ? {} : { rule: diff.text }),
        peakRssOursMiB: await peakRssMiB(process.execPath, lockArgs(), { cwd: dir, env: coldEnv(dir) }),
        peakRssPipMiB: pipTimedOut
          ? "n/a"
          : await peakRssMiB(env.python.executable, pipArgs(s.url, reqs), { env: pyEnv }),
        pipProcessAsMeasured: `${env.python.executable} ${pipArgs("URL", reqs).slice(0, 12).join(" ")} …`,
      },
    });

    // warm in process: our resolver in this process, a fresh index client each run
    const target = { python: env.python.version, platform: "linux-64" };
    const inProcess = async () =>
      resolvePip({
        requirements: reqs,
        source: indexCandidateSource(httpPypiIndex(s.url), target),
        target,
        semantics: defaultPipSemantics,
      });
    await inProcess();
    const warm: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const t0 = performance.now();
      await inProcess();
      warm.push(performance.now() - t0);
    }
    const mw = median(warm);
    ctx.compare({
      bench: `pip-resolve warm-in-process ${s.label}: ${set.name}`,
      ours: Number(mw.toFixed(1)),
      peer: "pip install --dry-run --report (whole process)",
      theirs: Number(mp.toFixed(1)),
      unit: "ms",
      extra: {
        measured:
          "NOT process vs process: ours warm in this already-running process (JIT warm, modules loaded, no start-up; a fresh index client each run) vs pip's whole process; flatters us",
      },
    });
    return { whole: mo / mp, warm: mw / mp };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const suite: BenchSuite = {
  name: "pip-resolve",
  async run(ctx) {
    const python = await findPython();
    if (!python) {
      ctx.log("pip-resolve skipped: python3 -m pip is not available");
      return;
    }
    ensureBuilt(ctx, ["cli", "core", "sdk", "resolver"]);
    const t0 = performance.now();
    const universe = pypiUniverse({
      seed: 1,
      projects: Number(process.env.MLENV_BENCH_PYPI_PROJECTS ?? 3000),
    });
    ctx.log(
      `PyPI-shaped index: ${Object.keys(universe.projects).length} projects, ${universe.files} wheels (generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; wheels are built as the index first serves their project)`,
    );
    const small = layered();
    const [layeredServer, pypiServer] = await Promise.all([
      servePypiIndex({ projects: small }),
      servePypiIndex({ projects: universe.projects }),
    ]);
    const record = (name: string, version: string, depends: string[]) => ({
      name,
      version,
      build: "h0_0",
      build_number: 0,
      depends,
      md5: "c".repeat(32),
      subdir: "linux-64",
    });
    const channel = await serveCondaChannel({
      files: {
        "linux-64/repodata.json": JSON.stringify({
          info: { subdir: "linux-64" },
          packages: {
            [`python-${python.version}-h0_0.tar.bz2`]: record("python", python.version, []),
            "pip-24.0-h0_0.tar.bz2": record("pip", "24.0", ["python"]),
          },
        }),
        "noarch/repodata.json": JSON.stringify({ info: { subdir: "noarch" }, packages: {} }),
      },
    });
    const target = markerEnvironment({ python: python.version, platform: "linux-64" });
    try {
      const results: Record<string, { whole: number[]; warm: number[] }> = {};
      for (const s of [
        { label: "small index", url: layeredServer.url, projects: small, sets: LAYERED_SETS },
        {
          label: "PyPI-shaped index",
          url: pypiServer.url,
          projects: universe.projects,
          sets: universe.scenarios,
        },
      ] satisfies Served[]) {
        const r = { whole: [] as number[], warm: [] as number[] };
        results[s.label] = r;
        for (const set of s.sets) {
          const m = await measureSet(ctx, s, set, { channel: channel.url, python, target });
          r.whole.push(m.whole);
          r.warm.push(m.warm);
        }
      }
      const all = Object.values(results);
      for (const [label, r] of Object.entries(results)) {
        ctx.report({
          bench: `pip-resolve whole-process median ratio, ${label}`,
          value: Number(median(r.whole).toFixed(4)),
          unit: "x pip (whole process vs whole process, both cold)",
          target: 0.1,
        });
      }
      ctx.report({
        bench: "pip-resolve whole-process median ratio",
        value: Number(median(all.flatMap((r) => r.whole)).toFixed(4)),
        unit: "x pip (whole process vs whole process, both cold; every set of both indexes)",
        target: 0.1,
      });
      ctx.report({
        bench: "pip-resolve warm-in-process median ratio",
        value: Number(median(all.flatMap((r) => r.warm)).toFixed(4)),
        unit: "x pip (NOT process vs process: ours warm in this process, pip a whole process)",
      });
    } finally {
      await Promise.all([layeredServer.close(), pypiServer.close(), channel.close()]);
    }
  },
};
