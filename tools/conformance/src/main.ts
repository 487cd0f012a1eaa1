import { resolve } from "node:path";
import { runConformance } from "./run";

const args = process.argv.slice(2);
const verbose = args.includes("--verbose") || args.includes("-v");
const dir = args.find((a) => !a.startsWith("-"));
if (dir === undefined) {
  process.stderr.write("usage: pnpm conformance DIR [--verbose]\n");
  process.exit(2);
}
const outcome = await runConformance(resolve(dir));
for (const r of outcome.reports) {
  process.stdout.write(
    `${r.file}: ${r.passed} passed, ${r.failed} failed, ${r.notApplicable} not applicable\n`,
  );
  const shown = verbose ? r.failures : r.failures.slice(0, 10);
  for (const f of shown) process.stdout.write(`  FAIL ${f}\n`);
  if (shown.length < r.failures.length)
    process.stdout.write(`  … ${r.failures.length - shown.length} more (--verbose)\n`);
}
for (const u of outcome.unclaimed) process.stdout.write(`${u}: no runner yet\n`);
process.stdout.write(`conformance: ${outcome.passed} passed, ${outcome.failed} failed\n`);
process.exit(outcome.failed > 0 ? 1 : 0);
