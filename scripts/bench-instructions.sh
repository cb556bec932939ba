#!/usr/bin/env bash
# mngr's own work in instructions (valgrind callgrind), for comparing two builds on a busy
# machine: wall times move with the load, instruction counts do not. Counts only the mngr
# process (not tmux or the shells it starts) for:
#   - `mngr create` of an in-place command agent
#   - `mngr list` with 10 and with 200 local agents
#   - `mngr list` with the docker plugin loaded and no docker hosts (plugin load and discovery)
# Usage: scripts/bench-instructions.sh [BASELINE_MNGR]
#   BASELINE_MNGR: another release mngr binary (say, built from an older commit) measured the
#   same way beside this tree's, with the change in percent.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v valgrind >/dev/null || { echo "Error: valgrind is not installed (apt-get install valgrind)" >&2; exit 1; }
cargo build --release -q -p mngr -p mngr-docker
current="$PWD/target/release/mngr"
baseline="${1:-}"
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
  echo "Error: baseline '$baseline' is not an executable mngr binary" >&2; exit 1
fi

work="$(mktemp -d)"
export HOME="$work/home" TMUX_TMPDIR="$work/tmux"
unset TMUX
mkdir -p "$HOME" "$TMUX_TMPDIR" "$work/src"
cleanup() {
  tmux kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work/src"

# Instructions of one run of `mngr ARGS...`, in millions.
instructions() {
  local out="$work/cg.out"
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>"$work/cg.err"
  awk '/^summary:/ { printf "%.2f", $2 / 1e6 }' "$out"
  rm -f "$out"
}

# The figures of one binary: create, list 10, list 200, list with the docker plugin.
measure() {
  local mngr="$1" root="$work/root-$2"
  export MNGR_ROOT="$root" MNGR__PROVIDERS__DOCKER__IS_ENABLED=false
  "$mngr" create warmup --in-place --no-connect -- sleep 100000 >/dev/null
  local create list10 list200 plugin
  create="$(instructions "$mngr" create "bench-$2" --in-place --no-connect -- sleep 100000)"
  for ((i = 2; i < 10; i++)); do "$mngr" create "fill-$2-$i" --in-place --no-connect -- sleep 100000 >/dev/null; done
  list10="$(instructions "$mngr" list)"
  for ((i = 10; i < 200; i++)); do "$mngr" create "fill-$2-$i" --in-place --no-connect -- sleep 100000 >/dev/null; done
  list200="$(instructions "$mngr" list)"
  "$mngr" destroy --force $("$mngr" list --format '{name}') >/dev/null
  # The docker plugin beside the binary is loaded by every command; `plugin list` only loads.
  plugin="$(MNGR__PROVIDERS__DOCKER__IS_ENABLED=true instructions "$mngr" plugin list)"
  echo "$create $list10 $list200 $plugin"
}

read -r c_create c_list10 c_list200 c_plugin <<<"$(measure "$current" current)"
if [ -n "$baseline" ]; then
  read -r b_create b_list10 b_list200 b_plugin <<<"$(measure "$baseline" baseline)"
fi

echo "mngr's own instructions (millions, callgrind, release build)"
row() {
  if [ -n "$baseline" ]; then
    awk -v n="$1" -v b="$2" -v c="$3" 'BEGIN { printf "  %-34s %9.2f  baseline %9.2f  (%+.1f%%)\n", n, c, b, (c - b) * 100 / b }'
  else
    printf '  %-34s %9.2f\n' "$1" "$3"
  fi
}
row "create (in-place command agent)" "${b_create:-0}" "$c_create"
row "list, 10 agents" "${b_list10:-0}" "$c_list10"
row "list, 200 agents" "${b_list200:-0}" "$c_list200"
row "plugin list (docker plugin loaded)" "${b_plugin:-0}" "$c_plugin"
