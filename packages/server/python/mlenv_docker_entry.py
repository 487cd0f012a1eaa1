"""Starts an mlenv run inside a container (shipped with the mlenv server; standard library only).

    python -c "$(cat mlenv_docker_entry.py)" SCRIPT [ARGS...]

Fetches the run's source snapshot and the mlenv_run helper from the server's callback (a unix
socket mounted into the container, `MLENV_RUN_CALLBACK=unix:/run/mlenv/callback.sock`, so it works
without network), runs SCRIPT in it, uploads the files written under ./outputs, and exits with the
script's exit code. Needs MLENV_RUN_ID, MLENV_RUN_CALLBACK and MLENV_RUN_TOKEN.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.parse


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._socket_path)
        self.sock = sock


def call(method, path, body=None):
    url = os.environ["MLENV_RUN_CALLBACK"]
    if url.startswith("unix:"):
        conn = UnixConnection(url[len("unix:"):], 300)
    else:
        parsed = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=300)
    data = json.dumps(body).encode("utf-8") if body is not None else None
    try:
        conn.request(method, path, body=data, headers={
            "content-type": "application/json",
            "x-mlenv-run-token": os.environ["MLENV_RUN_TOKEN"],
        })
        res = conn.getresponse()
        text = res.read()
        if res.status >= 400:
            raise SystemExit("mlenv: the run's callback answered %d to %s %s" % (res.status, method, path))
        return json.loads(text.decode("utf-8"))
    finally:
        conn.close()


def safe_join(root, rel):
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        raise SystemExit("mlenv: refusing snapshot path %r" % rel)
    return os.path.join(root, *parts)


def main():
    rid = os.environ["MLENV_RUN_ID"]
    snap = call("GET", "/runs/%s/snapshot" % rid)
    base = tempfile.mkdtemp(prefix="mlenv-run-")
    work = os.path.join(base, "work")
    helpers = os.path.join(base, "helpers")
    os.makedirs(work)
    os.makedirs(helpers)
    for name, text in snap["helpers"].items():
        with open(safe_join(helpers, name), "w") as f:
            f.write(text)
    for f in snap["files"]:
        target = safe_join(work, f["path"])
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(base64.b64decode(f["content"]))
        if f.get("executable"):
            os.chmod(target, 0o755)
    args = sys.argv[2:]
    # datastore inputs in `download` mode: staged read-only by the server, copied into ./inputs
    for copy in json.loads(os.environ.get("MLENV_RUN_INPUT_COPIES") or "[]"):
        dest = safe_join(work, "inputs/" + copy["name"])
        shutil.copytree(copy["source"], dest, symlinks=True)
        args[int(copy["index"])] = dest
    env = dict(os.environ)
    env.pop("MLENV_RUN_INPUT_COPIES", None)
    env["PYTHONPATH"] = helpers + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    sys.stdout.flush()
    sampler = None
    if os.environ.get("MLENV_RUN_GPUS"):
        sys.path.insert(0, helpers)
        import mlenv_run

        sampler = mlenv_run.GpuSampler(mlenv_run.gpu_indices()).start()
    code = subprocess.call([sys.executable, "-u", safe_join(work, sys.argv[1])] + args, cwd=work, env=env)
    if sampler:
        sampler.stop()
    outputs = []
    root = os.path.join(work, "outputs")
    for dirpath, _dirs, names in os.walk(root):
        for name in sorted(names):
            full = os.path.join(dirpath, name)
            if os.path.islink(full) or not os.path.isfile(full):
                continue
            with open(full, "rb") as f:
                rel = os.path.relpath(full, work).replace(os.sep, "/")
                outputs.append({"path": rel, "content": base64.b64encode(f.read()).decode("ascii")})
    if outputs:
        call("POST", "/runs/%s/outputs" % rid, {"files": outputs})
    sys.exit(code)


if __name__ == "__main__":
    main()
