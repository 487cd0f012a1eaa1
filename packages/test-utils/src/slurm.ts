import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository's `scripts/slurm-cluster.sh` (start|stop|status|restart-controller). */
export const SLURM_CLUSTER_SCRIPT = join(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "scripts",
  "slurm-cluster.sh",
);

/** A running one-node Slurm cluster on this machine (munged, slurmctld, slurmd, slurmrestd). */
export interface SlurmCluster {
  /** `unix:/…/slurmrestd.sock` (rest_auth/local). */
  restUrl: string;
  /** A slurmrestd with rest_auth/jwt on 127.0.0.1 (it refuses every token: no auth/jwt in Debian's slurmctld). */
  jwtUrl: string;
  /** The directory jobs and the server share (owned by the job user). */
  sharedDir: string;
  /** The slurm.conf clients use (`SLURM_CONF`). */
  conf: string;
  /** The user jobs run as. */
  user: string;
  /** Stop and start slurmctld, keeping its state (jobs survive). */
  restartController(): void;
  /** Restart slurmctld without its state: every job is forgotten (and killed on the node). */
  forgetJobs(): void;
  /** Run a Slurm command (sbatch, squeue, scontrol...) against this cluster as the job user. */
  command(name: string, args: string[]): { status: number | null; stdout: string; stderr: string };
  /** Stop the cluster if this handle started it. */
  stop(): Promise<void>;
}

/** Why a Slurm cluster cannot be started here, or null when it can. */
export function slurmMissing(): string | null {
  for (const b of ["munged", "slurmctld", "slurmd", "slurmrestd", "sinfo", "sbatch", "setpriv"]) {
    const found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"].some((d) => existsSync(join(d, b)));
    if (!found) return `${b} not found: apt-get install slurm-wlm slurmrestd munge`;
  }
  if (process.getuid?.() !== 0) return "starting slurmd needs root (it starts jobs as another user)";
  if (!existsSync(SLURM_CLUSTER_SCRIPT)) return `${SLURM_CLUSTER_SCRIPT} is missing`;
  return null;
}

function settings(out: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of out.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  return env;
}

/**
 * Start (or reuse) the one-node cluster of scripts/slurm-cluster.sh under `MLENV_SLURM_DIR`
 * (default /tmp/mlenv-slurm). It takes about a second. Test files running at once share it;
 * the last one to `stop()` stops it when a test started it (one started beforehand, as in CI, stays).
 */
export async function startSlurm(): Promise<SlurmCluster> {
  const missing = slurmMissing();
  if (missing) throw new Error(`cannot start Slurm: ${missing}`);
  const wasUp = spawnSync("bash", [SLURM_CLUSTER_SCRIPT, "status"], { encoding: "utf8" }).status === 0;
  const out = execFileSync("bash", [SLURM_CLUSTER_SCRIPT, "start"], { encoding: "utf8" });
  const s = settings(out);
  const conf = s.SLURM_CONF!;
  const user = s.MLENV_SLURM_USER!;
  // test files in parallel share the cluster: each holds it while it runs (a file per process),
  // and the last holder of a cluster some test started stops it
  const holders = join(dirname(dirname(conf)), "holders");
  mkdirSync(holders, { recursive: true });
  const mine = join(holders, `${process.pid}-${Date.now()}`);
  writeFileSync(mine, "");
  const startedByTests = join(dirname(holders), "started-by-tests");
  if (!wasUp) writeFileSync(startedByTests, "");
  const alive = (f: string) => {
    try {
      process.kill(Number(f.split("-")[0]), 0);
      return true;
    } catch {
      return false;
    }
  };
  return {
    restUrl: s.MLENV_SLURM_REST_URL!,
    jwtUrl: s.MLENV_SLURM_JWT_URL!,
    sharedDir: s.MLENV_SLURM_SHARED_DIR!,
    conf,
    user,
    restartController() {
      execFileSync("bash", [SLURM_CLUSTER_SCRIPT, "restart-controller"], { stdio: "ignore" });
    },
    forgetJobs() {
      execFileSync("bash", [SLURM_CLUSTER_SCRIPT, "forget-jobs"], { stdio: "ignore" });
    },
    command(name, args) {
      const r = spawnSync("setpriv", [`--reuid=${user}`, `--regid=${user}`, "--init-groups", name, ...args], {
        encoding: "utf8",
        env: { ...process.env, SLURM_CONF: conf },
      });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    },
    async stop() {
      rmSync(mine, { force: true });
      const others = readdirSync(holders).filter(alive);
      if (others.length === 0 && existsSync(startedByTests)) {
        rmSync(startedByTests, { force: true });
        execFileSync("bash", [SLURM_CLUSTER_SCRIPT, "stop"], { stdio: "ignore" });
      }
    },
  };
}
