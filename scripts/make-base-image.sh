#!/usr/bin/env bash
# Make mlenv's local CPU base image without pulling from any registry.
#
#   sudo scripts/make-base-image.sh [TAG]          (default TAG: mlenv/base-cpu:bookworm)
#
# Builds a Debian `debootstrap --variant=minbase` root file system with python3, python3-venv,
# python3-pip and ca-certificates, cleans the apt caches and lists, and imports it with
# `docker import` as TAG. Idempotent: does nothing when TAG already exists (set
# MLENV_BASE_REBUILD=1 to rebuild). The Debian mirror is read at run time from this machine's
# apt sources (/etc/apt/sources.list.d/*.sources or /etc/apt/sources.list); override it with
# MLENV_DEBIAN_MIRROR. The suite defaults to bookworm (MLENV_DEBIAN_SUITE).
# Tests use the image through MLENV_BASE_IMAGE_CPU (test-utils' baseImageCpu()).
# Needs root, debootstrap and a running Docker engine (see .ci/provision-docker.sh).
set -euo pipefail

TAG="${1:-${MLENV_BASE_IMAGE_CPU:-mlenv/base-cpu:bookworm}}"
SUITE="${MLENV_DEBIAN_SUITE:-bookworm}"
DOCKER="${DOCKER:-docker}"

case "$TAG" in
  *[!a-zA-Z0-9._/:-]*|'') echo "make-base-image: refusing image tag '$TAG' (expected e.g. mlenv/base-cpu:bookworm)" >&2; exit 2 ;;
esac
case "$SUITE" in
  *[!a-z0-9-]*|'') echo "make-base-image: refusing suite '$SUITE' (expected e.g. bookworm)" >&2; exit 2 ;;
esac

if [ "${MLENV_BASE_REBUILD:-0}" != 1 ] && "$DOCKER" image inspect "$TAG" >/dev/null 2>&1; then
  echo "make-base-image: $TAG already present"
  exit 0
fi

# The first Debian archive URI of the machine's apt sources (not the security archive).
find_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    while read -r uri; do
      case "$uri" in *security*) continue ;; *debian*) echo "$uri"; return 0 ;; esac
    done < <(sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n')
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1=="deb" { for (i=2;i<=NF;i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' "$f" | grep -v security | head -n1 || true)
    case "$uri" in *debian*) echo "$uri"; return 0 ;; esac
  done
  return 1
}
MIRROR="${MLENV_DEBIAN_MIRROR:-$(find_mirror || true)}"
if [ -z "$MIRROR" ]; then
  echo "make-base-image: no Debian mirror found in /etc/apt/sources*; set MLENV_DEBIAN_MIRROR" >&2
  exit 1
fi

ROOTFS=$(mktemp -d /tmp/mlenv-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

echo "make-base-image: debootstrap $SUITE from $MIRROR into $ROOTFS"
debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR"

# Slim the tree: no apt caches or lists, no logs, no docs/man pages.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log \
  "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/tmp/* \
  "$ROOTFS"/var/cache/debconf/*-old
# Debian's pip refuses system installs (PEP 668); images install into venvs or pass the flag.

echo "make-base-image: importing as $TAG"
tar -C "$ROOTFS" --numeric-owner -c . | "$DOCKER" import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' \
  --message "mlenv base image: debootstrap minbase $SUITE + python3" \
  - "$TAG"
echo "make-base-image: done: $("$DOCKER" image inspect --format '{{.Id}} {{.Size}}' "$TAG")"
