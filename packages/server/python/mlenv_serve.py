"""The mlenv web service worker (shipped with the mlenv server; standard library only).

    python mlenv_serve.py ENTRY_SCRIPT PORT

Loads ENTRY_SCRIPT (the reference contract: `init()` once, `run(raw_data)` per request), then
serves on 127.0.0.1:PORT:
  POST /score   body = raw request text; answers the JSON of run(raw_data) (a str result is sent
                as is when it already is JSON); errors answer 500 {"error": message}. Needs the
                header x-mlenv-service-token: the token the server gave in MLENV_SERVICE_TOKEN
                (removed from the environment before the entry script loads); 401 without it.
                The server's scoring route adds it: other local processes cannot score.
  GET  /healthz answers {"status": "ok"} to anyone (it carries no data)
The model files are in MLENV_MODEL_DIR (also AZUREML_MODEL_DIR, as in the reference).
"""

import hmac
import http.server
import importlib.util
import json
import os
import sys
import traceback


def load(path):
    spec = importlib.util.spec_from_file_location("mlenv_entry", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["mlenv_entry"] = module
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise SystemExit("entry script %s: expected a function run(raw_data); none found" % path)
    return module


class Handler(http.server.BaseHTTPRequestHandler):
    entry = None
    token = b""
    protocol_version = "HTTP/1.1"

    def _send(self, status, payload, raw=None):
        body = raw if raw is not None else json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.split("?")[0] == "/healthz":
            self._send(200, {"status": "ok"})
        else:
            self._send(404, {"error": "no route GET %s; use POST /score or GET /healthz" % self.path[:200]})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        given = (self.headers.get("x-mlenv-service-token") or "").encode("utf-8")
        if not hmac.compare_digest(given, Handler.token):
            self.rfile.read(length)
            self._send(401, {"error": "expected the service's token in x-mlenv-service-token; score through the server (POST /api/v1/services/NAME/score)"})
            return
        if self.path.split("?")[0] != "/score":
            self.rfile.read(length)
            self._send(404, {"error": "no route POST %s; use POST /score" % self.path[:200]})
            return
        raw = self.rfile.read(length).decode("utf-8", errors="replace")
        try:
            result = Handler.entry.run(raw)
        except Exception as e:  # the entry script's failure is the caller's answer
            traceback.print_exc()
            self._send(500, {"error": "%s: %s" % (type(e).__name__, e)})
            return
        if isinstance(result, str):
            try:
                json.loads(result)
                self._send(200, None, raw=result.encode("utf-8"))
                return
            except ValueError:
                pass
        try:
            self._send(200, result)
        except TypeError as e:
            self._send(500, {"error": "run() returned a value JSON cannot carry: %s" % e})

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: mlenv_serve.py ENTRY_SCRIPT PORT")
    entry, port = sys.argv[1], int(sys.argv[2])
    token = os.environ.pop("MLENV_SERVICE_TOKEN", "")
    if not token:
        raise SystemExit("mlenv_serve.py: expected the service's token in MLENV_SERVICE_TOKEN; received none")
    Handler.token = token.encode("utf-8")
    sys.path.insert(0, os.path.dirname(os.path.abspath(entry)))
    Handler.entry = load(entry)
    if callable(getattr(Handler.entry, "init", None)):
        Handler.entry.init()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("mlenv_serve: listening on 127.0.0.1:%d" % port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
