#!/usr/bin/env bash
# Agent benchmarks on the local provider, release build:
#   - `mngr create` of an in-place command agent (median wall time)
#   - `mngr list` with 10, 50, 100 and 200 agents (median wall time; growth should be linear
#     or better)
#   - peak memory (max RSS) of `mngr list` with 200 agents (/usr/bin/time -v)
# Targets: list of 10 < 20 ms, list of 200 < 100 ms, create < 50 ms, list peak RSS < 25 MB.
# Everything runs in a temp mngr root with a private tmux server, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q -p mngr
mngr="$PWD/target/release/mngr"
runs="${BENCH_RUNS:-21}"

work="$(mktemp -d)"
export MNGR_ROOT="$work/root" HOME="$work/home" TMUX_TMPDIR="$work/tmux"
export MNGR__PROVIDERS__DOCKER__IS_ENABLED=false
unset TMUX
mkdir -p "$HOME" "$TMUX_TMPDIR" "$work/src"
cleanup() {
  tmux kill-server 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work/src"

# Median wall time in ms of running a command line `runs` times (python only times the child).
# `{i}` in an argument becomes the run's number, so each run can make its own agent.
median_ms() {
  python3 - "$runs" "$@" <<'EOF'
import subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for i in range(runs):
    argv = [arg.replace("{i}", str(i)) for arg in cmd]
    t = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
times.sort()
print(f"{times[len(times) // 2]:.1f}")
EOF
}

grow_to() {
  local have
  have="$("$mngr" list --ids | wc -l)"
  for ((i = have; i < $1; i++)); do
    "$mngr" create "fill-$i" --in-place --no-connect -- sleep 100000 >/dev/null
  done
}

echo "mngr agent benchmarks (release build, median of $runs runs)"
# The first create starts the tmux server; measure steady-state creates after it.
"$mngr" create warmup --in-place --no-connect -- sleep 100000 >/dev/null
create="$(median_ms "$mngr" create "bench-{i}" --in-place --no-connect -- sleep 100000)"
printf '  create (in-place command agent)   %6s ms   (target < 50)\n' "$create"
"$mngr" destroy $("$mngr" list --format '{name}') >/dev/null

for n in 10 50 100 200; do
  grow_to "$n"
  ms="$(median_ms "$mngr" list)"
  target=""
  [ "$n" = 10 ] && target="(target < 20)"
  [ "$n" = 200 ] && target="(target < 100)"
  printf '  list with %3d agents             %6s ms   %s\n' "$n" "$ms" "$target"
done

rss_kb="$(/usr/bin/time -v "$mngr" list 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ {print $2}')"
printf '  list peak RSS (200 agents)        %6s MB   (target < 25)\n' "$(awk -v kb="$rss_kb" 'BEGIN {printf "%.1f", kb / 1024}')"
