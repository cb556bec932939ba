#!/usr/bin/env bash
# Runs every kill loop (tests named kill_loop_*: local, and docker where built) with
# MNGR_KILL_TRIALS=${1:-20} trials per operation and prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
trials="${1:-20}"
cargo build --workspace --all-targets
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
MNGR_KILL_TRIALS="$trials" cargo nextest run --workspace --no-fail-fast --no-capture \
  -E 'test(/::kill_loop_/)' >"$log" 2>&1 || status=$?
grep -aoE 'kill-loop: .*' "$log" || true
grep -E '^\s+(PASS|FAIL|SIGSEGV|TIMEOUT) ' "$log" || true
grep -E '^\s+Summary ' "$log" || tail -n 20 "$log"
exit "$status"
