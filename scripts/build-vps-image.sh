#!/usr/bin/env bash
# Build the image the Vultr stand-in boots its VPSes from, without any registry: debootstrap
# Debian bookworm with openssh-server, cloud-init and docker.io from Debian's mirror, add the
# stand-in's init helpers (plugins/vultr/standin/image), then `docker import` it.
#
# Usage: scripts/build-vps-image.sh [--force] [--tag TAG] [--mirror URL]
# Idempotent: does nothing if the tag exists and was built from the current helper files,
# unless --force.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/scripts/lib/debian-rootfs.sh"

TAG="${MNGR_VPS_IMAGE:-mngr-vultr-vps:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
# What a fresh Debian 12 cloud VPS has that matters here; cloud-init and docker.io come after
# debootstrap because debootstrap cannot resolve cloud-init's virtual dependencies.
BASE_PACKAGES="openssh-server,iproute2,procps,ca-certificates,sudo,curl,rsync,bash,coreutils,util-linux"
APT_PACKAGES="cloud-init docker.io"
FILES="$ROOT/plugins/vultr/standin/image"

parse_image_args 2,8 "$@"

require_docker
# The image is labelled with a digest of the stand-in's files, so changing them rebuilds it.
FILES_DIGEST="$(cat "$FILES"/* "$ROOT/scripts/build-vps-image.sh" | sha256sum | cut -c1-16)"
BUILT_DIGEST="$(docker image inspect --format '{{index .Config.Labels "mngr.vps-files"}}' "$TAG" 2>/dev/null || true)"
if [ "$FORCE" -eq 0 ] && [ "$BUILT_DIGEST" = "$FILES_DIGEST" ]; then
  echo "VPS image $TAG is up to date (use --force to rebuild)"; exit 0
fi
find_debootstrap

ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/mngr-vps.XXXXXX")"
cleanup() {
  for m in dev/pts dev proc sys; do mountpoint -q "$ROOTFS/$m" && $SUDO umount -l "$ROOTFS/$m"; done
  $SUDO rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

debootstrap_into "$ROOTFS" "$BASE_PACKAGES"

echo "installing $APT_PACKAGES..."
for m in proc sys dev dev/pts; do $SUDO mount --bind "/$m" "$ROOTFS/$m"; done
# No daemon may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$ROOTFS/usr/sbin/policy-rc.d" >/dev/null
$SUDO chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
$SUDO chroot "$ROOTFS" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $APT_PACKAGES
$SUDO rm -f "$ROOTFS/usr/sbin/policy-rc.d"
for m in dev/pts dev sys proc; do $SUDO umount -l "$ROOTFS/$m"; done

# The stand-in's pieces: cloud-init settings for a systemd-less overlay root, the init steps
# it runs in place of systemd units, and a systemctl that maps onto them.
$SUDO install -m 0644 "$FILES/99-standin.cfg" "$ROOTFS/etc/cloud/cloud.cfg.d/99-standin.cfg"
$SUDO install -m 0755 "$FILES/vps-init" "$ROOTFS/usr/local/sbin/vps-init"
$SUDO install -m 0755 "$FILES/systemctl" "$ROOTFS/usr/local/bin/systemctl"
# cloud-init's ssh module writes the host keys each boot needs; none may come from the image.
$SUDO rm -f "$ROOTFS"/etc/ssh/ssh_host_*
$SUDO rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/lib/cloud/*
$SUDO mkdir -p "$ROOTFS/run/sshd"

import_rootfs "$ROOTFS" "$TAG" --change 'ENV container=docker' --change 'CMD ["sleep", "infinity"]' \
  --change "LABEL mngr.vps-files=$FILES_DIGEST"
