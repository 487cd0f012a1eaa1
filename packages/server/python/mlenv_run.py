"""Helpers for scripts that run under mlenv (shipped with the mlenv server; standard library only).

    import mlenv_run
    mlenv_run.log("loss", 0.1)          # a metric of this run
    mlenv_run.run_id()                   # the run's id, or None outside a run

The run sets MLENV_RUN_ID, MLENV_RUN_CALLBACK (`unix:/path/of/the/server's/socket`, which works
without network access; an `http://` URL is also accepted) and MLENV_RUN_TOKEN; on a cluster
target MLENV_RUN_METRICS_FILE instead (a file on the shared directory the server reads). Outside a run
(none of them set) `log` prints the metric instead, so a script also works on its own.

A run given GPUs (MLENV_RUN_GPUS, nvidia-smi indices) also gets system metrics per GPU, recorded by
`GpuSampler` while the script runs: `system/gpu<i>/utilization` (percent) and
`system/gpu<i>/memory_used_mib`.
"""

import http.client
import json
import math
import os
import socket
import subprocess
import threading
import urllib.parse

__all__ = ["log", "log_list", "run_id", "outputs_dir", "GpuSampler"]


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
    callback(url, "POST", "/runs/" + rid + "/metrics", body, token, timeout=30)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


def callback(url, method, path, body, token, timeout):
    """One request to the run's callback (`unix:/path` or `http://host:port`); the answer's bytes."""
    if url.startswith("unix:"):
        conn = _UnixConnection(url[len("unix:"):], timeout)
    else:
        parsed = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"content-type": "application/json", "x-mlenv-run-token": token})
        res = conn.getresponse()
        data = res.read()
        if res.status >= 400:
            raise RuntimeError("mlenv: the run's callback answered %d to %s %s: %s" % (res.status, method, path, data[:200]))
        return data
    finally:
        conn.close()


def log(name, value):
    """Log one value of metric `name` (a number, string, bool or any JSON value)."""
    _check(name, value)
    _send(name, value)


def log_list(name, values):
    """Log several values of one metric, in order."""
    for v in values:
        log(name, v)


def _gpu_query(indices):
    """Rows (index, utilization %, memory used MiB, memory total MiB) from nvidia-smi for these GPUs."""
    cmd = [
        "nvidia-smi",
        "--query-gpu=index,utilization.gpu,memory.used,memory.total",
        "--format=csv,noheader,nounits",
    ]
    if indices:
        cmd.append("--id=" + ",".join(str(i) for i in indices))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout
    rows = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 4 or not parts[0].isdigit():
            continue
        rows.append((int(parts[0]),) + tuple(_number(p) for p in parts[1:]))
    return rows


def _number(text):
    """A number of nvidia-smi's CSV, or None for "[N/A]" (some devices do not report every field)."""
    try:
        return float(text)
    except ValueError:
        return None


class GpuSampler:
    """Records utilisation and memory of the run's GPUs every `interval` seconds until stopped."""

    def __init__(self, indices, interval=2.0):
        self.indices = list(indices)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mlenv-gpu-metrics", daemon=True)
        self.samples = 0
        self.error = None

    def sample(self):
        for index, util, used, _total in _gpu_query(self.indices):
            if util is not None:
                log("system/gpu%d/utilization" % index, util)
            if used is not None:
                log("system/gpu%d/memory_used_mib" % index, used)
        self.samples += 1

    def _loop(self):
        while True:
            try:
                self.sample()
            except Exception as e:  # never break the run for a metric
                self.error = "%s: %s" % (type(e).__name__, e)
            if self._stop.wait(self.interval):
                return

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """Stop after one last sample (so even a short run has one)."""
        self._stop.set()
        self._thread.join(timeout=30)
        try:
            self.sample()
        except Exception as e:
            self.error = "%s: %s" % (type(e).__name__, e)


def gpu_indices():
    """The nvidia-smi indices of the GPUs given to this run (MLENV_RUN_GPUS), or []."""
    raw = os.environ.get("MLENV_RUN_GPUS", "")
    return [int(x) for x in raw.split(",") if x.strip().isdigit()]
