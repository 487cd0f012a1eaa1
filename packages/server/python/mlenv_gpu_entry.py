"""Runs a script of an mlenv run that was given GPUs (shipped with the mlenv server; standard library only).

    python -u mlenv_gpu_entry.py SCRIPT [ARGS...]

Records the utilisation and memory of the run's GPUs (MLENV_RUN_GPUS) as system metrics while
SCRIPT runs in a child process with the same interpreter, and exits with its exit code.
"""

import os
import signal
import subprocess
import sys

import mlenv_run


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: mlenv_gpu_entry.py SCRIPT [ARGS...]")
    sampler = mlenv_run.GpuSampler(mlenv_run.gpu_indices()).start()
    child = subprocess.Popen([sys.executable, "-u"] + sys.argv[1:])

    def forward(signum, _frame):
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    sampler.stop()
    if sampler.error:
        print("[mlenv] GPU metrics: %s" % sampler.error, file=sys.stderr)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
