#!/usr/bin/env bash
# Makes a Python venv with apache-libcloud from PyPI, the third-party Vultr v2 client the
# stand-in's tests check it against. Safe to run again.
# Usage: scripts/libcloud-venv.sh [VENV_DIR]   (default: target/libcloud-venv)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-target/libcloud-venv}"
LIBCLOUD_VERSION=3.9.1
if "$VENV/bin/python" -c "import libcloud" >/dev/null 2>&1; then
  exit 0
fi
python3 -m venv "$VENV" || { echo "Error: python3 -m venv failed; install python3-venv" >&2; exit 1; }
"$VENV/bin/pip" install --quiet --disable-pip-version-check "apache-libcloud==$LIBCLOUD_VERSION"
