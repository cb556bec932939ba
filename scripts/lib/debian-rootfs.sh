# Shared by the scripts that build Debian images without a registry (sourced, not run):
# reads their common arguments, checks that Docker answers, finds debootstrap (installing it
# when apt-get can), debootstraps, and imports a root filesystem directory as an image.

# parse_image_args USAGE_LINES ARGS...: reads --force, --tag TAG, --mirror URL and --help
# into FORCE (0 or 1), TAG and MIRROR (set them to their defaults first); --help prints the
# calling script's lines USAGE_LINES (a sed range such as 2,6) and exits.
parse_image_args() {
  local usage="$1"
  shift
  FORCE=0
  while [ $# -gt 0 ]; do
    case "$1" in
      --force) FORCE=1 ;;
      --tag) TAG="$2"; shift ;;
      --tag=*) TAG="${1#--tag=}" ;;
      --mirror) MIRROR="$2"; shift ;;
      --mirror=*) MIRROR="${1#--mirror=}" ;;
      -h|--help) sed -n "${usage}p" "$0"; exit 0 ;;
      *) echo "Error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
  done
}

# require_docker: fail with a clear line when the Docker engine cannot be used.
require_docker() {
  if ! command -v docker >/dev/null 2>&1; then
    echo "Error: docker is not installed; install Docker Engine first" >&2; exit 1
  fi
  if ! docker info >/dev/null 2>&1; then
    echo "Error: cannot reach the Docker daemon (is it running, and may this user use it?)" >&2; exit 1
  fi
}

# find_debootstrap: sets SUDO (empty when root) and DEBOOTSTRAP (its path).
find_debootstrap() {
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
}

# debootstrap_into DIR PACKAGES: a minimal Debian $SUITE from $MIRROR with PACKAGES
# (comma-separated) in DIR (after find_debootstrap).
debootstrap_into() {
  echo "debootstrapping $SUITE from $MIRROR into $1 (takes a few minutes)..."
  $SUDO "$DEBOOTSTRAP" --variant=minbase --include="$2" "$SUITE" "$1" "$MIRROR"
}

# import_rootfs DIR TAG [--change ...]: docker import DIR as TAG with the usual PATH and LANG.
import_rootfs() {
  local rootfs="$1" tag="$2"
  shift 2
  echo "importing as $tag..."
  $SUDO tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$@" - "$tag" >/dev/null
  echo "built $tag"
}
