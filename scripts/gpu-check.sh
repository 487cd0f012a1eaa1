#!/usr/bin/env bash
# The GPU check: runs the portable mlenv distribution end to end on a machine with an NVIDIA GPU.
#
#   MLENV_GPU_CHECK_PYTHON=/path/to/python-with-torch scripts/gpu-check.sh mlenv-<version>-linux-x64.tar.xz
#
# Needs: Linux, an NVIDIA driver (nvidia-smi on PATH), a Python with PyTorch (MLENV_GPU_CHECK_PYTHON,
# default python3). No Node, no Docker, no network. It unpacks the tarball into a fresh folder,
# starts a server (SQLite), prints the detected __cuda, registers a user-managed GPU environment
# whose interpreter is that Python, trains a small MLP on the GPU in a local run (loss and GPU
# metrics logged), registers the model from the run's outputs, deploys a local service whose
# init() loads it onto the GPU and scores it, checks that two runs asking for the only free GPU
# run one after the other, and that asking for more GPUs than exist fails at submit time.
#
# Prints one line per check: `GPU-CHECK <name> PASS|FAIL <detail>`; exits 1 when any failed.
# With a FAKE nvidia-smi on PATH (CI: test/fixtures/fake-nvidia-smi, whose GPUs are named "FAKE
# GPU") the same steps run with a pure-Python model instead of PyTorch, and every line says
# "[fake nvidia-smi]": that checks parsing, allocation and the errors, not a GPU.
set -uo pipefail

TARBALL="${1:-}"
if [ -z "$TARBALL" ] || [ ! -f "$TARBALL" ]; then
  echo "usage: MLENV_GPU_CHECK_PYTHON=/path/to/python $0 mlenv-<version>-linux-x64.tar.xz" >&2
  exit 2
fi
TARBALL=$(readlink -f -- "$TARBALL")
PY="${MLENV_GPU_CHECK_PYTHON:-python3}"
START=$(date +%s)
FAILED=0
FAKE=0
if nvidia-smi -L 2>/dev/null | grep -q "FAKE GPU"; then FAKE=1; fi
LABEL=""
[ "$FAKE" = 1 ] && LABEL=" [fake nvidia-smi]"

report() { # name PASS|FAIL detail...
  local name=$1 status=$2
  shift 2
  echo "GPU-CHECK $name $status $*$LABEL"
  [ "$status" = PASS ] || FAILED=1
}

WORK=$(mktemp -d /tmp/mlenv-gpu-check.XXXXXX)
# a root server runs user code as another account, which must reach the data folder inside
chmod 755 "$WORK"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- unpack into an empty folder; nothing of the build machine is used
unpack() { # tar needs xz for .tar.xz; without it, Python's lzma reads the tarball
  if command -v xz >/dev/null 2>&1; then tar -xJf "$TARBALL" -C "$WORK"; else
    "$PY" -c 'import sys, tarfile; tarfile.open(sys.argv[1], "r:xz").extractall(sys.argv[2])' "$TARBALL" "$WORK"
  fi
}
if ! unpack 2>"$WORK/tar.err"; then
  report unpack FAIL "tar: $(head -c 300 "$WORK/tar.err")"
  exit 1
fi
MLENV=$(ls -d "$WORK"/mlenv-*-linux-x64 2>/dev/null | head -n1)/mlenv
if [ ! -x "$MLENV" ]; then
  report unpack FAIL "no mlenv-*-linux-x64/mlenv in $TARBALL"
  exit 1
fi
NODE_ON_PATH=$(command -v node || echo none)
report unpack PASS "$(basename "$TARBALL") ($(du -sh "$(dirname "$MLENV")" | cut -f1) unpacked; node on PATH: $NODE_ON_PATH; $("$MLENV" --version 2>&1 | head -n1))"

pyjson() { # python code reading JSON from stdin as `d`
  "$PY" -c "import json,sys; d=json.load(sys.stdin); $1"
}

# ---- server on SQLite
export MLENV_CONFIG="$WORK/no-config.json"
TOKEN=$("$MLENV" token generate)
mkdir -p "$WORK/data"
(cd "$WORK" && MLENV_BOOTSTRAP_TOKEN="$TOKEN" exec "$MLENV" server start --port 0 --data-dir "$WORK/data" \
  >"$WORK/server.out" 2>"$WORK/server.err") &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL=$(sed -n 's/^mlenv server listening on \(http[^ ]*\).*/\1/p' "$WORK/server.out" | head -n1)
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.2
done
if [ -z "$URL" ]; then
  report server FAIL "did not start: $(tail -c 400 "$WORK/server.err" | tr '\n' ' ')"
  exit 1
fi
report server PASS "listening on $URL (SQLite in $WORK/data)"
export MLENV_URL="$URL" MLENV_TOKEN="$TOKEN"

# ---- the GPUs and __cuda the server detected
if "$MLENV" gpus --json >"$WORK/gpus.json" 2>"$WORK/gpus.err"; then
  GPU_COUNT=$(pyjson 'print(len(d["devices"]))' <"$WORK/gpus.json")
  CUDA=$(pyjson 'print(d["cuda"] or "")' <"$WORK/gpus.json")
  GPU_NAMES=$(pyjson 'print("; ".join("GPU %d: %s" % (g["index"], g["name"]) for g in d["devices"]))' <"$WORK/gpus.json")
  if [ "${GPU_COUNT:-0}" -ge 1 ] && [ -n "$CUDA" ]; then
    report cuda-detected PASS "__cuda=$CUDA ($(pyjson 'print(d["cudaSource"])' <"$WORK/gpus.json")); $GPU_NAMES"
  else
    report cuda-detected FAIL "__cuda=${CUDA:-none}, $GPU_COUNT GPU(s): $(pyjson 'print(d.get("reason"))' <"$WORK/gpus.json")"
  fi
else
  GPU_COUNT=0
  report cuda-detected FAIL "mlenv gpus: $(head -c 300 "$WORK/gpus.err")"
fi

# ---- a user-managed GPU environment whose interpreter is the given Python
# resolved: a root server runs user code as another account, which may not see a symlink's folder
PY_ABS=$(readlink -f -- "$(command -v "$PY" || echo "$PY")")
mkdir -p "$WORK/env" "$WORK/train" "$WORK/serve" "$WORK/hold"
"$PY" - "$WORK/env/azureml_environment.json" "$PY_ABS" "$((1 - FAKE))" <<'PYEOF'
import json, sys
json.dump({
    "name": "gpu-check",
    "python": {"userManagedDependencies": True, "interpreterPath": sys.argv[2]},
    "docker": {"gpuSupport": True},
    "environmentVariables": {"MLENV_GPU_CHECK_TORCH": sys.argv[3]},
}, open(sys.argv[1], "w"), indent=2)
PYEOF
if "$MLENV" env register -d "$WORK/env" >"$WORK/env.out" 2>&1; then
  report env-register PASS "$(head -n1 "$WORK/env.out") (interpreter $PY_ABS)"
else
  report env-register FAIL "$(head -c 300 "$WORK/env.out")"
fi

# ---- train a small MLP on the GPU (pure Python under the fake nvidia-smi)
if [ "$FAKE" = 1 ]; then
  cat >"$WORK/train/train.py" <<'PYEOF'
import json, os, sys
import mlenv_run
# FAKE GPU: no PyTorch; a pure-Python linear model stands in for the MLP.
steps = int(sys.argv[1])
data = [(x / 10.0, 2.0 * x / 10.0 + 1.0) for x in range(20)]
w = b = 0.0
for step in range(steps):
    gw = sum(2 * (w * x + b - y) * x for x, y in data) / len(data)
    gb = sum(2 * (w * x + b - y) for x, y in data) / len(data)
    w, b = w - 0.05 * gw, b - 0.05 * gb
    if step % 20 == 0 or step == steps - 1:
        mlenv_run.log("loss", sum((w * x + b - y) ** 2 for x, y in data) / len(data))
os.makedirs("outputs", exist_ok=True)
json.dump({"w": w, "b": b}, open("outputs/model.json", "w"))
print("trained on CUDA_VISIBLE_DEVICES=%s" % os.environ.get("CUDA_VISIBLE_DEVICES"))
PYEOF
  cat >"$WORK/serve/score.py" <<'PYEOF'
import json, os
def init():
    global model
    model = json.load(open(os.path.join(os.environ["MLENV_MODEL_DIR"], "model.json")))
def run(raw):
    xs = json.loads(raw)["data"]
    return {"predictions": [model["w"] * x[0] + model["b"] for x in xs], "device": "fake:" + os.environ.get("CUDA_VISIBLE_DEVICES", "")}
PYEOF
  MODEL_FILE=outputs/model.json
else
  cat >"$WORK/train/train.py" <<'PYEOF'
import os, sys, time
import mlenv_run
import torch
if not torch.cuda.is_available():
    sys.exit("PyTorch sees no GPU (CUDA_VISIBLE_DEVICES=%r)" % os.environ.get("CUDA_VISIBLE_DEVICES"))
dev = torch.device("cuda")
torch.manual_seed(0)
X = torch.randn(16384, 64, device=dev)
y = torch.sin(X @ torch.randn(64, 1, device=dev))
model = torch.nn.Sequential(
    torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1)
).to(dev)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
steps = int(sys.argv[1])
t0 = time.time()
for step in range(steps):
    loss = torch.nn.functional.mse_loss(model(X), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 20 == 0 or step == steps - 1:
        mlenv_run.log("loss", float(loss))
torch.cuda.synchronize()
os.makedirs("outputs", exist_ok=True)
torch.save(model.state_dict(), "outputs/model.pt")
print("trained %d steps in %.1fs on %s (CUDA_VISIBLE_DEVICES=%s), final loss %.4f" % (
    steps, time.time() - t0, torch.cuda.get_device_name(0), os.environ.get("CUDA_VISIBLE_DEVICES"), float(loss)))
PYEOF
  cat >"$WORK/serve/score.py" <<'PYEOF'
import json, os
import torch
def init():
    global model
    model = torch.nn.Sequential(
        torch.nn.Linear(64, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1)
    )
    state = torch.load(os.path.join(os.environ["MLENV_MODEL_DIR"], "model.pt"), map_location="cuda")
    model.load_state_dict(state)
    model.to("cuda").eval()
def run(raw):
    x = torch.tensor(json.loads(raw)["data"], dtype=torch.float32, device="cuda")
    with torch.no_grad():
        out = model(x)
    return {"predictions": out.squeeze(1).tolist(), "device": str(next(model.parameters()).device)}
PYEOF
  MODEL_FILE=outputs/model.pt
fi

RUN_ID=""
if timeout 240 "$MLENV" run submit --source-dir "$WORK/train" --script train.py --env gpu-check --gpus 1 \
  --experiment gpu-check --wait --json -- 400 >"$WORK/train.json" 2>"$WORK/train.err"; then
  RUN_ID=$(pyjson 'print(d["id"])' <"$WORK/train.json")
  "$MLENV" run show "$RUN_ID" --json >"$WORK/train-show.json" 2>>"$WORK/train.err"
  DETAIL=$(pyjson '
m = d["metrics"]
loss = [p["value"] if isinstance(p, dict) else p for p in m.get("loss", [])]
gpu = sorted(k for k in m if k.startswith("system/gpu"))
ok = len(loss) >= 5 and loss[-1] < loss[0] and any(k.endswith("/utilization") for k in gpu) and any(k.endswith("/memory_used_mib") for k in gpu) and d["gpus"]["devices"]
print(("OK " if ok else "BAD ") + "gpus given %s; loss %.4f -> %.4f (%d values); GPU metrics %s" % (
    d["gpus"]["devices"], loss[0] if loss else float("nan"), loss[-1] if loss else float("nan"), len(loss),
    ", ".join("%s=%s" % (k, (m[k][-1]["value"] if isinstance(m[k][-1], dict) else m[k][-1])) for k in gpu) or "none"))
' <"$WORK/train-show.json")
  TRAINED=$("$MLENV" run logs "$RUN_ID" 2>/dev/null | grep -m1 '^trained' || true)
  case "$DETAIL" in
    OK*) report train PASS "run $RUN_ID: ${DETAIL#OK }; $TRAINED" ;;
    *) report train FAIL "run $RUN_ID: ${DETAIL#BAD }; $TRAINED" ;;
  esac
else
  report train FAIL "$(tail -c 600 "$WORK/train.err" | tr '\n' ' ')"
fi

# ---- register the model from the run's outputs
if [ -n "$RUN_ID" ] && "$MLENV" model register -n gpu-check-mlp --run "$RUN_ID" --path "$MODEL_FILE" \
  >"$WORK/model.out" 2>&1; then
  report model-register PASS "$(head -n1 "$WORK/model.out")"
else
  report model-register FAIL "$(head -c 300 "$WORK/model.out" 2>/dev/null)"
fi

# ---- a local service holding the GPU: init() loads the model onto it, run() predicts
if timeout 180 "$MLENV" service deploy -n gpu-check-svc --model gpu-check-mlp --entry-script score.py \
  --source-dir "$WORK/serve" --env gpu-check --gpus 1 --json >"$WORK/svc.json" 2>"$WORK/svc.err"; then
  if [ "$FAKE" = 1 ]; then BODY='{"data": [[0.5], [1.0]]}'; else
    BODY=$("$PY" -c 'import json; print(json.dumps({"data": [[0.1 * (i + j) for j in range(64)] for i in range(2)]}))')
  fi
  if "$MLENV" service score gpu-check-svc --data "$BODY" >"$WORK/score.json" 2>"$WORK/score.err"; then
    SCORED=$(pyjson 'p = d["predictions"]; print(("OK " if len(p) == 2 and all(isinstance(v, float) for v in p) else "BAD ") + "predictions %s on %s" % ([round(v, 4) for v in p], d.get("device")))' <"$WORK/score.json")
    case "$SCORED" in
      OK*) report service PASS "gpu-check-svc on GPU(s) $(pyjson 'print(d["deploymentConfig"].get("gpus"))' <"$WORK/svc.json"): ${SCORED#OK }" ;;
      *) report service FAIL "${SCORED#BAD }" ;;
    esac
  else
    report service FAIL "score: $(head -c 300 "$WORK/score.err")"
  fi
  "$MLENV" service delete gpu-check-svc >/dev/null 2>&1
else
  report service FAIL "deploy: $(tail -c 400 "$WORK/svc.err" | tr '\n' ' '); logs: $("$MLENV" service logs gpu-check-svc 2>&1 | tail -n 5 | tr '\n' ' ')"
fi

# ---- two runs asking for the only free GPU run one after the other
cat >"$WORK/hold/hold.py" <<'PYEOF'
import os, sys, time
start = time.time()
if os.environ.get("MLENV_GPU_CHECK_TORCH") == "1":
    import torch
    x = torch.ones(1024, 1024, device="cuda")
    torch.cuda.synchronize()
time.sleep(3)
print("HOLD %s %.3f %.3f %s" % (sys.argv[1], start, time.time(), os.environ.get("CUDA_VISIBLE_DEVICES")))
PYEOF
HOLD_IDS=()
for tag in first second; do
  if [ "$GPU_COUNT" -gt 1 ]; then N=$GPU_COUNT; else N=1; fi
  id=$("$MLENV" run submit --source-dir "$WORK/hold" --script hold.py --env gpu-check --gpus "$N" \
    --experiment gpu-hold --json -- "$tag" 2>>"$WORK/hold.err" | pyjson 'print(d["id"])' 2>>"$WORK/hold.err")
  [ -n "$id" ] && HOLD_IDS+=("$id")
done
if [ "${#HOLD_IDS[@]}" = 2 ]; then
  for id in "${HOLD_IDS[@]}"; do timeout 120 "$MLENV" run logs -f "$id" >"$WORK/hold-$id.log" 2>&1; done
  SERIAL=$(cat "$WORK/hold-${HOLD_IDS[0]}.log" "$WORK/hold-${HOLD_IDS[1]}.log" | "$PY" -c '
import sys
lines = sys.stdin.read().splitlines()
holds = {l.split()[1]: l.split() for l in lines if l.startswith("HOLD ")}
waited = any("waiting for" in l and "free GPU" in l for l in lines)
if set(holds) != {"first", "second"}:
    print("BAD expected a HOLD line from both runs; got %s" % sorted(holds))
else:
    a, b = sorted(holds.values(), key=lambda h: float(h[2]))
    ok = float(b[2]) >= float(a[3]) and waited
    print(("OK " if ok else "BAD ") + "%s ran %.1f-%.1fs on GPU %s, %s ran %.1f-%.1fs on GPU %s (%s)" % (
        a[1], 0, float(a[3]) - float(a[2]), a[4], b[1], float(b[2]) - float(a[2]), float(b[3]) - float(a[2]), b[4],
        "second waited for the GPU" if waited else "no wait was logged"))
')
  case "$SERIAL" in
    OK*) report gpu-exclusive PASS "${SERIAL#OK }" ;;
    *) report gpu-exclusive FAIL "${SERIAL#BAD }" ;;
  esac
else
  report gpu-exclusive FAIL "submit: $(head -c 300 "$WORK/hold.err")"
fi

# ---- asking for more GPUs than the machine has fails at submit time
MORE=$((GPU_COUNT + 1))
if "$MLENV" run submit --source-dir "$WORK/hold" --script hold.py --env gpu-check --gpus "$MORE" \
  --experiment gpu-too-many -- x >"$WORK/more.out" 2>"$WORK/more.err"; then
  report too-many-gpus FAIL "a run asking for $MORE GPU(s) was accepted: $(head -c 200 "$WORK/more.out")"
elif grep -q E_GPU_UNAVAILABLE "$WORK/more.err"; then
  report too-many-gpus PASS "--gpus $MORE refused: $(head -n1 "$WORK/more.err" | cut -c1-220)"
else
  report too-many-gpus FAIL "unexpected error: $(head -c 300 "$WORK/more.err")"
fi

# ---- graceful stop
kill -TERM "$SERVER_PID" 2>/dev/null
STOPPED=FAIL
for _ in $(seq 1 100); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then STOPPED=PASS; break; fi
  sleep 0.2
done
report server-stop "$STOPPED" "after SIGTERM"
SERVER_PID=""

ELAPSED=$(($(date +%s) - START))
if [ "$ELAPSED" -lt 300 ]; then report duration PASS "${ELAPSED}s (limit 300s)"; else report duration FAIL "${ELAPSED}s (limit 300s)"; fi
exit "$FAILED"
