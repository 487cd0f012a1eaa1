"""Starts an mlenv run inside a Slurm job (shipped with the mlenv server; standard library only).

    python -u mlenv_slurm_entry.py RUN_DIR            # the batch step
    python -u mlenv_slurm_entry.py --task RUN_DIR     # one task of a distributed run (under srun)

RUN_DIR (on the cluster's shared directory) holds job.json ({script, arguments, tasks,
distribution}), work/ (the run's source; ./outputs is collected by the server), helpers/ (this file
and mlenv_run.py). Metrics go to MLENV_RUN_METRICS_FILE (JSON lines the server reads). The batch
step writes exit.json with the script's exit code, so the outcome survives Slurm forgetting the job.
With more than one task, srun starts one process per task with the variables PyTorch
(RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT) and MPI-style launchers read.

When job.json has a `container` ({runtime: "docker", image, python, network, readOnly, env,
memoryMb?}), each task runs the script in a container of the run's image on its node instead:
`docker run` as the job's user, the run directory bind-mounted at the same path, datastore mounts
read-only, network `none` (or `host`, never a bridge); the container is removed when the job is
cancelled or times out (SIGTERM).
"""

import json
import os
import signal
import socket
import subprocess
import sys

RANK_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                  "MASTER_PORT", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                  "OMPI_COMM_WORLD_LOCAL_RANK", "PMI_RANK", "PMI_SIZE")


def load(run_dir):
    with open(os.path.join(run_dir, "job.json")) as f:
        return json.load(f)


def script_argv(run_dir, spec):
    script = os.path.join(run_dir, "work", *spec["script"].split("/"))
    return [sys.executable, "-u", script] + list(spec["arguments"])


def container_argv(run_dir, spec, env, name):
    """`docker run` of the script in the run's image; the variables the script reads are passed by name."""
    c = spec["container"]
    work = os.path.join(run_dir, "work")
    argv = ["docker", "run", "--rm", "--name", name, "--network", c["network"],
            "--user", "%d:%d" % (os.getuid(), os.getgid()), "--workdir", work,
            "--label", "mlenv.run=%s" % env.get("MLENV_RUN_ID", ""),
            "-v", "%s:%s" % (run_dir, run_dir)]
    for path in c.get("readOnly", []):
        argv += ["-v", "%s:%s:ro" % (path, path)]
    if c.get("memoryMb"):
        argv += ["--memory", "%dm" % int(c["memoryMb"])]
    names = set(c.get("env", [])) | {"PYTHONPATH"} | set(RANK_VARIABLES)
    names |= {k for k in env if k.startswith("SLURM_")}
    for k in sorted(names):
        if k in env:
            argv += ["-e", k]
    argv += ["-e", "HOME=/tmp", c["image"], c["python"]]
    return argv + script_argv(run_dir, spec)[1:]


def run_child(argv, cwd, env, container=None):
    """Run argv. With a container: on SIGTERM/SIGINT (scancel, time limit) remove the container
    (it is not a process of the job, so Slurm cannot stop it) and end as the signal would have."""
    if not container:
        return subprocess.call(argv, cwd=cwd, env=env)
    proc = subprocess.Popen(argv, cwd=cwd, env=env)

    def stop(signum, _frame):
        subprocess.call(["docker", "rm", "-f", container], env=env,
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.kill()
        except OSError:
            pass
        # no exit.json: the job was stopped, Slurm's state says how
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return proc.wait()


def base_env(run_dir):
    env = dict(os.environ)
    helpers = os.path.join(run_dir, "helpers")
    env["PYTHONPATH"] = helpers + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    # the docker client's configuration (no credentials are needed: images are on the node)
    env.setdefault("DOCKER_CONFIG", os.path.join(run_dir, ".docker"))
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
    work = os.path.join(run_dir, "work")
    if spec.get("container"):
        name = "mlenv-slurm-%s-%s" % (env.get("SLURM_JOB_ID", "0"), rank)
        code = run_child(container_argv(run_dir, spec, env, name), work, env, name)
        sys.exit(128 - code if code < 0 else code)
    argv = script_argv(run_dir, spec)
    os.chdir(work)
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
        container = None
    elif spec.get("container"):
        container = "mlenv-slurm-%s-0" % env.get("SLURM_JOB_ID", "0")
        argv = container_argv(run_dir, spec, env, container)
    else:
        argv = script_argv(run_dir, spec)
        container = None
    sys.stdout.flush()
    code = run_child(argv, work, env, container)
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
