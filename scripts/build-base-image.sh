#!/usr/bin/env bash
# Build the Debian base image the docker provider uses by default, without any registry:
# debootstrap Debian bookworm from Debian's mirror into a temp dir, then `docker import` it.
#
# Usage: scripts/build-base-image.sh [--force] [--tag TAG] [--mirror URL]
# Idempotent: does nothing if the tag already exists, unless --force.
set -euo pipefail
. "$(dirname "$0")/lib/debian-rootfs.sh"

TAG="${MNGR_BASE_IMAGE:-mngr-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
PACKAGES="openssh-server,tmux,git,rsync,procps,ca-certificates,bash,coreutils,util-linux"

parse_image_args 2,6 "$@"

require_docker
if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "base image $TAG already exists (use --force to rebuild)"; exit 0
fi
find_debootstrap

ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/mngr-base.XXXXXX")"
cleanup() { $SUDO rm -rf --one-file-system "$ROOTFS"; }
trap cleanup EXIT

debootstrap_into "$ROOTFS" "$PACKAGES"

# Keep the image small and make sshd start cleanly: mngr injects its own host key per
# container, so the generated ones are removed; sshd needs its privilege-separation dir.
$SUDO rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
$SUDO rm -f "$ROOTFS"/etc/ssh/ssh_host_*
$SUDO mkdir -p "$ROOTFS/run/sshd" "$ROOTFS/root/.ssh"
$SUDO chmod 700 "$ROOTFS/root/.ssh"

import_rootfs "$ROOTFS" "$TAG" --change 'CMD ["/bin/bash"]'
