#!/usr/bin/env bash
# Build the mlenv server image from packages/server/Dockerfile without network access.
#
#   scripts/build-server-image.sh [TAG]     (default TAG: mlenv/server:dev)
#
# Needs: built packages (pnpm -r build, or `pnpm check:packages`), the local base image
# (scripts/make-base-image.sh; MLENV_BASE_IMAGE_CPU overrides its tag) and a Docker engine.
# The build uses host networking and never pulls.
set -euo pipefail
cd "$(dirname "$0")/.."
TAG="${1:-mlenv/server:dev}"
BASE="${MLENV_BASE_IMAGE_CPU:-mlenv/base-cpu:bookworm}"
case "$TAG$BASE" in
  *[!a-zA-Z0-9._/:-]*) echo "build-server-image: refusing image tag '$TAG' or base '$BASE'" >&2; exit 2 ;;
esac
CTX=$(mktemp -d /tmp/mlenv-server-image.XXXXXX)
trap 'rm -rf "$CTX"' EXIT
# A self-contained copy of @mlenv/cli (and so @mlenv/server) with production node_modules.
pnpm --filter @mlenv/cli deploy --prod --legacy --offline "$CTX/app" >/dev/null
cp "$(readlink -f "$(command -v node)")" "$CTX/node"
docker build --network host --pull=false --build-arg "BASE_IMAGE=$BASE" \
  -f packages/server/Dockerfile -t "$TAG" "$CTX"
