/**
 * Runs on a Slurm compute target (the one-node cluster of scripts/slurm-cluster.sh):
 * - slurm-run-overhead: a trivial run from submit to `completed` through the server, against
 *   `sbatch --wait` of the same script on the same cluster in the same run (ratio target <= 1.5);
 * - slurm-50-runs: 50 trivial runs submitted at once (all must complete), wall time and the
 *   server process's CPU time per run (utime + stime from /proc).
 * The server runs in its own process (test-utils' spawnServer) so its CPU time is its own.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runs } from "@mlenv/api";
import {
  makeTempDir,
  skipWithout,
  slurmMissing,
  spawnServer,
  startSlurm,
  venvMissing,
} from "@mlenv/test-utils";
import { type BenchContext, type BenchSuite, median } from "../harness";

const SCRIPT = "print('ok')\n";
const RUNS = Number(process.env.MLENV_BENCH_SLURM_RUNS ?? 5);

function cpuSeconds(pid: number): number {
  // fields 14 and 15 (utime, stime) in clock ticks (100 per second on Linux)
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export const suite: BenchSuite = {
  name: "slurm",
  requires: ["slurm"],
  async run(ctx: BenchContext) {
    if (skipWithout("slurm", slurmMissing() ?? venvMissing())) return;
    const slurm = await startSlurm();
    const dir = makeTempDir("mlenv-bench-slurm-");
    const token = `mlenv_${randomBytes(32).toString("base64url")}`;
    const server = await spawnServer({
      MLENV_DATA_DIR: dir.path,
      MLENV_BOOTSTRAP_TOKEN: token,
      MLENV_CLUSTER_POLL_MS: "200",
    });
    // biome-ignore lint/suspicious/noExplicitAny: answers are read field by field
    const api = async (method: string, path: string, body?: unknown): Promise<any> => {
      const res = await fetch(server.url + path, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const json = await res.json();
      if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    try {
      await api("POST", "/api/v1/compute", {
        kind: "slurm",
        name: "bench",
        restUrl: slurm.restUrl,
        sharedDir: slurm.sharedDir,
        partition: "main",
      });
      const snap = await api("POST", "/api/v1/snapshots", {
        files: [{ path: "train.py", content: Buffer.from(SCRIPT).toString("base64") }],
      });
      const submit = () =>
        api("POST", "/api/v1/runs", {
          experiment: "bench",
          script: "train.py",
          snapshot: snap.id,
          target: "bench",
        });
      const until = async (id: string) => {
        for (;;) {
          const r = await api("GET", `/api/v1/runs/${id}`);
          if (runs.isFinalRunStatus(r.status)) return r;
          await new Promise((res) => setTimeout(res, 50));
        }
      };
      // the first run makes the environment on the shared directory
      const first = await until((await submit()).id);
      if (first.status !== "completed")
        throw new Error(`warm-up run ${first.status}: ${JSON.stringify(first.error)}`);

      const peerScript = join(slurm.sharedDir, "bench-train.py");
      writeFileSync(peerScript, SCRIPT);
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        let t = performance.now();
        const r = await until((await submit()).id);
        if (r.status !== "completed") throw new Error(`run ${r.status}`);
        ours.push(performance.now() - t);
        t = performance.now();
        const s = slurm.command("sbatch", [
          "--wait",
          "--quiet",
          "-p",
          "main",
          `--output=${join(slurm.sharedDir, "bench-%j.out")}`,
          `--chdir=${slurm.sharedDir}`,
          "--wrap",
          `/usr/bin/python3 -u ${peerScript}`,
        ]);
        if (s.status !== 0) throw new Error(`sbatch --wait: ${s.stderr}`);
        theirs.push(performance.now() - t);
      }
      ctx.compare({
        bench: "slurm-run-overhead",
        ours: Number(median(ours).toFixed(0)),
        peer: "sbatch --wait",
        theirs: Number(median(theirs).toFixed(0)),
        unit: "ms",
        extra: { runs: RUNS, target_ratio: 1.5, server_poll_ms: 200 },
      });

      const cpu0 = cpuSeconds(server.pid);
      const t0 = performance.now();
      const ids = (await Promise.all(Array.from({ length: 50 }, () => submit()))).map((r) => r.id as string);
      const done = await Promise.all(ids.map(until));
      const wall = performance.now() - t0;
      const cpu = cpuSeconds(server.pid) - cpu0;
      const completed = done.filter((r) => r.status === "completed").length;
      if (completed !== 50) throw new Error(`only ${completed} of 50 runs completed`);
      ctx.report({
        bench: "slurm-50-runs",
        value: Number(((cpu * 1000) / 50).toFixed(1)),
        unit: "ms server CPU per run",
        extra: { completed, wall_s: Number((wall / 1000).toFixed(1)), server_cpu_s: Number(cpu.toFixed(2)) },
      });
    } finally {
      await server.stop();
      await slurm.stop();
      dir.cleanup();
    }
  },
};
