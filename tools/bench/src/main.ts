import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchContext, type BenchSuite, type Comparison, machineLoad, type Report } from "./harness";

const args = process.argv.slice(2);
const json = args.includes("--json");
const filters = args.filter((a) => !a.startsWith("--"));
const here = dirname(fileURLToPath(import.meta.url));
const suiteDir = join(here, "suites");

const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

/** Every line carries the machine's load (a suite's own, sampled during its runs, wins). */
function withLoad<T extends { bench: string; extra?: Record<string, number | string> }>(line: T): T {
  const load = machineLoad();
  const extra = { ...load, ...line.extra };
  const seen = Number(extra.loadavg_1m);
  if (line.extra?.noisy === undefined && seen > load.cores)
    extra.noisy = `yes (load ${seen} on ${load.cores} cores)`;
  if (String(extra.noisy).startsWith("yes"))
    err(`# warning: ${line.bench} was measured on a busy machine (${extra.noisy}): expect noisy figures`);
  return { ...line, extra };
}

const ctx: BenchContext = {
  compare(c0) {
    const c = withLoad(c0);
    const full: Comparison = {
      ...c,
      ratio: c.theirs === 0 ? Number.NaN : Number((c.ours / c.theirs).toFixed(4)),
    };
    if (json) out(JSON.stringify(full));
    else
      out(
        `${full.bench.padEnd(32)} ours ${fmt(full.ours)} ${full.unit}  ${full.peer} ${fmt(full.theirs)} ${full.unit}  ratio ${full.ratio}${
          full.extra ? `  ${JSON.stringify(full.extra)}` : ""
        }`,
      );
  },
  report(r0: Report) {
    const r = withLoad(r0);
    if (json) out(JSON.stringify(r));
    else
      out(
        `${r.bench.padEnd(32)} ${fmt(r.value)} ${r.unit}${r.target !== undefined ? ` (target ${r.target})` : ""}${
          r.extra ? `  ${JSON.stringify(r.extra)}` : ""
        }`,
      );
  },
  log(line) {
    (json ? err : out)(`# ${line}`);
  },
};

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3);
}

const files = readdirSync(suiteDir)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
  .sort();
let failed = 0;
for (const f of files) {
  let suite: BenchSuite | undefined;
  try {
    suite = ((await import(pathToFileURL(join(suiteDir, f)).href)) as { suite?: BenchSuite }).suite;
  } catch (e) {
    // One suite that fails to load must not hide the others' figures.
    failed++;
    err(`bench suite file ${f} failed to load: ${e instanceof Error ? e.message : String(e)}`);
    continue;
  }
  if (!suite) continue;
  if (filters.length && !filters.some((x) => suite.name.includes(x))) continue;
  ctx.log(`suite ${suite.name}`);
  try {
    await suite.run(ctx);
  } catch (e) {
    failed++;
    err(`bench suite ${suite.name} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
}
process.exitCode = failed ? 1 : 0;
