#!/usr/bin/env bash
# Provision the Docker engine the build tests use, as root; idempotent (called by .ci/run).
#
# Starts dockerd without the default bridge, iptables or masquerading (every build and container
# uses host networking), logging to $MLENV_DOCKER_LOG, if nothing answers on the socket yet; waits
# until the engine answers; then makes the local CPU base image if it is absent
# (scripts/make-base-image.sh). dockerd runs in its own session (setsid) so it outlives the
# shell or job group that provisioned it.
set -euo pipefail
cd "$(dirname "$0")/.."

SOCK="${MLENV_DOCKER_SOCK:-/var/run/docker.sock}"
DATA_ROOT="${MLENV_DOCKER_DATA_ROOT:-/var/lib/docker}"
LOG="${MLENV_DOCKER_LOG:-/var/log/mlenv-dockerd.log}"
export DOCKER_HOST="unix://$SOCK"

answers() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if answers; then
  echo "provision-docker: engine already answering on $SOCK"
else
  command -v dockerd >/dev/null || { echo "provision-docker: dockerd missing (apt-get install docker.io)" >&2; exit 1; }
  mkdir -p "$DATA_ROOT" "$(dirname "$LOG")"
  echo "provision-docker: starting dockerd (data root $DATA_ROOT, log $LOG)"
  setsid nohup dockerd \
    --host "unix://$SOCK" \
    --data-root "$DATA_ROOT" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    >>"$LOG" 2>&1 </dev/null &
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
  if ! answers; then
    echo "provision-docker: dockerd did not answer within 60 s; last log lines:" >&2
    tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
  echo "provision-docker: engine $(docker version --format '{{.Server.Version}}') answering"
fi

bash scripts/make-base-image.sh "${MLENV_BASE_IMAGE_CPU:-mlenv/base-cpu:bookworm}"
