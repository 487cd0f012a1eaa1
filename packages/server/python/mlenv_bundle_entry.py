"""Starts an mlenv web service worker in a container (shipped with the mlenv server).

    python mlenv_bundle_entry.py ENTRY_SCRIPT PORT

Unpacks /opt/mlenv-service/bundle.json ({"src": {path: base64}, "model": {path: base64}}) into a
temporary folder, sets MLENV_MODEL_DIR / AZUREML_MODEL_DIR, and runs mlenv_serve.py.
"""

import base64
import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def safe_join(root, rel):
    parts = rel.split("/")
    if not rel or rel.startswith("/") or any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        raise SystemExit("mlenv: refusing bundle path %r" % rel)
    return os.path.join(root, *parts)


def unpack(files, root):
    for rel, content in files.items():
        target = safe_join(root, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(base64.b64decode(content))


def main():
    entry, port = sys.argv[1], sys.argv[2]
    with open(os.path.join(HERE, "bundle.json")) as f:
        bundle = json.load(f)
    base = tempfile.mkdtemp(prefix="mlenv-service-")
    src, model = os.path.join(base, "src"), os.path.join(base, "model")
    os.makedirs(src)
    os.makedirs(model)
    unpack(bundle["src"], src)
    unpack(bundle["model"], model)
    os.environ["MLENV_MODEL_DIR"] = model
    os.environ["AZUREML_MODEL_DIR"] = model
    os.chdir(src)
    os.execv(sys.executable, [sys.executable, "-u", os.path.join(HERE, "mlenv_serve.py"), safe_join(src, entry), port])


if __name__ == "__main__":
    main()
