#!/usr/bin/env bash
# Makes (or reuses) the Python venv holding Modal's official client, which the Modal stand-in's
# conformance test drives. Prints the venv's python path. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

modal_version="1.6.4"
venv="${MNGR_MODAL_VENV:-$PWD/target/modal-venv}"
python="$venv/bin/python"

if [ -x "$python" ] && "$python" -c "import modal, sys; sys.exit(modal.__version__ != '$modal_version')" 2>/dev/null; then
  echo "$python"
  exit 0
fi
python3 -m venv "$venv" >&2
"$python" -m pip install --quiet --disable-pip-version-check "modal==$modal_version" >&2
echo "$python"
