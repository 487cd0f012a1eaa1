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
# A self-contained copy of @mlenv/cli, and of @mlenv/server (an optional peer of the CLI) where
# the CLI finds it (app/node_modules/@mlenv/server), with production node_modules, taken
# from the lockfile and the store that `pnpm install` filled: injected workspace packages make
# `pnpm deploy` install from the lockfile, so it needs no registry metadata (a --legacy deploy
# re-resolves every range and fails offline on a machine whose cache holds only the store).
# Its output goes to stderr so a caller sees why it failed.
PNPM=(pnpm)
command -v pnpm >/dev/null 2>&1 || PNPM=(npx -y "pnpm@$(node -p 'require("./package.json").packageManager.split("@")[1]')")
echo "build-server-image: pnpm deploy @mlenv/cli (offline, from the lockfile)" >&2
"${PNPM[@]}" --filter @mlenv/cli deploy --prod --offline --config.inject-workspace-packages=true "$CTX/app" >&2
echo "build-server-image: pnpm deploy @mlenv/server beside it" >&2
"${PNPM[@]}" --filter @mlenv/server deploy --prod --offline --config.inject-workspace-packages=true \
  "$CTX/app/node_modules/@mlenv/server" >&2
cp "$(readlink -f "$(command -v node)")" "$CTX/node"
docker build --network host --pull=false --build-arg "BASE_IMAGE=$BASE" \
  -f packages/server/Dockerfile -t "$TAG" "$CTX"
