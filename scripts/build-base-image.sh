#!/usr/bin/env bash
# Build the Debian base image the docker provider uses by default, without any registry:
# debootstrap Debian bookworm from Debian's mirror into a temp dir, then `docker import` it.
#
# Usage: scripts/build-base-image.sh [--force] [--tag TAG] [--mirror URL]
# Idempotent: does nothing if the tag already exists, unless --force.
set -euo pipefail

TAG="${MNGR_BASE_IMAGE:-mngr-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
FORCE=0
PACKAGES="openssh-server,tmux,git,rsync,procps,ca-certificates,bash,coreutils,util-linux"

while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --tag) TAG="$2"; shift ;;
    --tag=*) TAG="${1#--tag=}" ;;
    --mirror) MIRROR="$2"; shift ;;
    --mirror=*) MIRROR="${1#--mirror=}" ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "Error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if ! command -v docker >/dev/null 2>&1; then
  echo "Error: docker is not installed; install Docker Engine first" >&2; exit 1
fi
if ! docker info >/dev/null 2>&1; then
  echo "Error: cannot reach the Docker daemon (is it running, and may this user use it?)" >&2; exit 1
fi
if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already exists (use --force to rebuild)"; exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Error: debootstrap needs root; run as root or install sudo" >&2; exit 1
  fi
fi
DEBOOTSTRAP="$(command -v debootstrap || true)"
[ -z "$DEBOOTSTRAP" ] && [ -x /usr/sbin/debootstrap ] && DEBOOTSTRAP=/usr/sbin/debootstrap
if [ -z "$DEBOOTSTRAP" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "debootstrap missing; installing it with apt-get" >&2
    $SUDO apt-get install -y debootstrap >/dev/null || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y debootstrap >/dev/null; }
    DEBOOTSTRAP=/usr/sbin/debootstrap
  else
    echo "Error: debootstrap is not installed and apt-get is unavailable; install debootstrap" >&2; exit 1
  fi
fi

ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/mngr-base.XXXXXX")"
cleanup() { $SUDO rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

echo "debootstrapping $SUITE from $MIRROR into $ROOTFS (takes a few minutes)..."
$SUDO "$DEBOOTSTRAP" --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR"

# Keep the image small and make sshd start cleanly: mngr injects its own host key per
# container, so the generated ones are removed; sshd needs its privilege-separation dir.
$SUDO rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
$SUDO rm -f "$ROOTFS"/etc/ssh/ssh_host_*
$SUDO mkdir -p "$ROOTFS/run/sshd" "$ROOTFS/root/.ssh"
$SUDO chmod 700 "$ROOTFS/root/.ssh"

echo "importing as $TAG..."
$SUDO tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' \
  - "$TAG" >/dev/null
echo "built $TAG"
