"""Helpers for scripts that run under mlenv (shipped with the mlenv server; standard library only).

    import mlenv_run
    mlenv_run.log("loss", 0.1)          # a metric of this run
    mlenv_run.run_id()                   # the run's id, or None outside a run

The run sets MLENV_RUN_ID, MLENV_RUN_CALLBACK (a loopback URL) and MLENV_RUN_TOKEN; on a cluster
target MLENV_RUN_METRICS_FILE instead (a file on the shared directory the server reads). Outside a run
(none of them set) `log` prints the metric instead, so a script also works on its own.
"""

import json
import math
import os
import urllib.request

__all__ = ["log", "log_list", "run_id", "outputs_dir"]


def run_id():
    """The id of the current run, or None when the script runs outside mlenv."""
    return os.environ.get("MLENV_RUN_ID") or None


def outputs_dir():
    """The directory whose files are kept as the run's artifacts (./outputs, created if needed)."""
    path = os.path.join(os.getcwd(), "outputs")
    os.makedirs(path, exist_ok=True)
    return path


def _check(name, value):
    if not isinstance(name, str) or not name or len(name) > 255:
        raise ValueError("mlenv_run.log: expected a metric name of 1-255 characters, e.g. 'loss'; received %r" % (name,))
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("mlenv_run.log: expected a finite number for %r; received %r" % (name, value))
    json.dumps(value)  # raises TypeError for values JSON cannot carry


def _send(name, value):
    path = os.environ.get("MLENV_RUN_METRICS_FILE")
    if path and run_id():
        # cluster runs: one JSON line per value, appended (the server reads the file)
        with open(path, "a") as f:
            f.write(json.dumps({"name": name, "value": value}) + "\n")
        return
    url = os.environ.get("MLENV_RUN_CALLBACK")
    token = os.environ.get("MLENV_RUN_TOKEN")
    rid = run_id()
    if not (url and token and rid):
        print("metric %s = %s" % (name, json.dumps(value)))
        return
    body = json.dumps({"name": name, "value": value}).encode("utf-8")
    req = urllib.request.Request(
        url.rstrip("/") + "/runs/" + rid + "/metrics",
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-mlenv-run-token": token},
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        res.read()


def log(name, value):
    """Log one value of metric `name` (a number, string, bool or any JSON value)."""
    _check(name, value)
    _send(name, value)


def log_list(name, values):
    """Log several values of one metric, in order."""
    for v in values:
        log(name, v)
