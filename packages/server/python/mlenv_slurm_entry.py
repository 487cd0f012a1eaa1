"""Starts an mlenv run inside a Slurm job (shipped with the mlenv server; standard library only).

    python -u mlenv_slurm_entry.py RUN_DIR            # the batch step
    python -u mlenv_slurm_entry.py --task RUN_DIR     # one task of a distributed run (under srun)

RUN_DIR (on the cluster's shared directory) holds job.json ({script, arguments, tasks,
distribution}), work/ (the run's source; ./outputs is collected by the server), helpers/ (this file
and mlenv_run.py). Metrics go to MLENV_RUN_METRICS_FILE (JSON lines the server reads). The batch
step writes exit.json with the script's exit code, so the outcome survives Slurm forgetting the job.
With more than one task, srun starts one process per task with the variables PyTorch
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and MPI-style launchers read.
"""

import json
import os
import socket
import subprocess
import sys


def load(run_dir):
    with open(os.path.join(run_dir, "job.json")) as f:
        return json.load(f)


def script_argv(run_dir, spec):
    script = os.path.join(run_dir, "work", *spec["script"].split("/"))
    return [sys.executable, "-u", script] + list(spec["arguments"])


def base_env(run_dir):
    env = dict(os.environ)
    helpers = os.path.join(run_dir, "helpers")
    env["PYTHONPATH"] = helpers + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def task(run_dir):
    spec = load(run_dir)
    env = base_env(run_dir)
    rank = env.get("SLURM_PROCID", "0")
    size = env.get("SLURM_NTASKS", str(spec["tasks"]))
    local = env.get("SLURM_LOCALID", "0")
    env.update({
        "RANK": rank,
        "WORLD_SIZE": size,
        "LOCAL_RANK": local,
        "NODE_RANK": env.get("SLURM_NODEID", "0"),
        "LOCAL_WORLD_SIZE": env.get("SLURM_NTASKS_PER_NODE", "1").split("(")[0],
        "OMPI_COMM_WORLD_RANK": rank,
        "OMPI_COMM_WORLD_SIZE": size,
        "OMPI_COMM_WORLD_LOCAL_RANK": local,
        "PMI_RANK": rank,
        "PMI_SIZE": size,
    })
    argv = script_argv(run_dir, spec)
    os.chdir(os.path.join(run_dir, "work"))
    os.execve(argv[0], argv, env)


def main(run_dir):
    spec = load(run_dir)
    env = base_env(run_dir)
    work = os.path.join(run_dir, "work")
    if int(spec["tasks"]) > 1:
        job = int(env.get("SLURM_JOB_ID", "0"))
        env.setdefault("MASTER_ADDR", socket.gethostname())
        env.setdefault("MASTER_PORT", str(20000 + job % 20000))
        argv = ["srun", "--kill-on-bad-exit=1", "--export=ALL", sys.executable, "-u",
                os.path.abspath(__file__), "--task", run_dir]
    else:
        argv = script_argv(run_dir, spec)
    sys.stdout.flush()
    code = subprocess.call(argv, cwd=work, env=env)
    if code < 0:
        code = 128 - code
    tmp = os.path.join(run_dir, "exit.json.tmp")
    with open(tmp, "w") as f:
        json.dump({"exitCode": code}, f)
    os.replace(tmp, os.path.join(run_dir, "exit.json"))
    sys.exit(code)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--task":
        task(sys.argv[2])
    elif len(sys.argv) == 2:
        main(sys.argv[1])
    else:
        sys.exit("usage: mlenv_slurm_entry.py [--task] RUN_DIR")
