#!/usr/bin/env bash
# Start-up cost of loading plugins, in a release build.
#
#   scripts/bench-plugin-load.sh [RUNS]
#
# 1. `mngr plugin list` with every plugin the workspace builds, against `--no-plugins`.
# 2. How the cost grows with the number of plugins: N = 1, 5, 10, 20 copies of the example
#    plugin. Copies of one library would all be the same plugin (mngr refuses the second one
#    before running its start-up), so each copy gets its plugin name patched in the binary
#    (`example-dirs` -> `bench-000001`, same length): every copy is then opened, checked,
#    started and asked to describe its backend. They all register the backend name `dirs`, so
#    every copy after the first is reported as a duplicate backend (one warning line each, sent
#    to /dev/null here); that costs nothing measurable next to loading.
#
# The binary is copied into an empty directory so that "the directory beside the executable"
# holds only what each scenario puts there, and HOME and MNGR_ROOT point into a temp dir.
# Uses hyperfine when installed (apt install hyperfine), else a timing loop. Figures: median and
# minimum wall time, and CPU time (user + system; hyperfine only), in milliseconds.
# Target: under 2 ms per plugin.

set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-100}"

echo "building (release)..." >&2
cargo build --release --workspace --quiet

ext=so
[[ "$(uname)" == Darwin ]] && ext=dylib
release=target/release
example="$release/libmngr_example_dirs.$ext"
mapfile -t workspace_plugins < <(ls "$release"/*."$ext")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/home"
cp "$release/mngr" "$tmp/bin/mngr"
mngr="$tmp/bin/mngr"

# "median_ms min_ms cpu_ms" of `mngr plugin list ARGS` with MNGR_ROOT=ROOT. The machine may be
# busy, so the minimum wall time and the CPU time (user + system) are the steadier figures.
measure() {
  local root="$1"; shift
  if command -v hyperfine >/dev/null 2>&1; then
    HOME="$tmp/home" MNGR_ROOT="$root" hyperfine -N --runs "$runs" --warmup 5 --style none \
      --export-csv "$tmp/h.csv" "$mngr plugin list $*" >/dev/null 2>&1
    # command,mean,stddev,median,user,system,min,max
    awk -F, 'NR == 2 { printf "%.3f %.3f %.3f", $4 * 1000, $7 * 1000, ($5 + $6) * 1000 }' "$tmp/h.csv"
  else
    local times=() start end
    for ((i = 0; i < runs; i++)); do
      start=$(date +%s%N)
      HOME="$tmp/home" MNGR_ROOT="$root" "$mngr" plugin list "$@" >/dev/null 2>&1
      end=$(date +%s%N)
      times+=($(((end - start) / 1000)))
    done
    printf "%s\n" "${times[@]}" | sort -n |
      awk '{ t[NR] = $1 } END { printf "%.3f %.3f -", t[int((NR + 1) / 2)] / 1000, t[1] / 1000 }'
  fi
}

# A root whose plugins/ holds the given files.
make_root() {
  local root="$1"; shift
  mkdir -p "$root/plugins"
  for f in "$@"; do cp "$f" "$root/plugins/"; done
}

row() { # label median min cpu
  printf "  %-34s %8.2f %8.2f %8s\n" "$1" "$2" "$3" "$4"
}

echo "tool: $(command -v hyperfine >/dev/null && hyperfine --version || echo 'timing loop'), $runs runs each; load: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
echo

# 1. Every workspace plugin vs --no-plugins.
make_root "$tmp/ws" "${workspace_plugins[@]}"
n_ws=${#workspace_plugins[@]}
read -r none_med none_min none_cpu <<<"$(measure "$tmp/ws" --no-plugins)"
read -r all_med all_min all_cpu <<<"$(measure "$tmp/ws")"
echo "workspace plugins ($n_ws: $(for f in "${workspace_plugins[@]}"; do basename "$f"; done | tr '\n' ' '))"
printf "  %-34s %8s %8s %8s\n" "" "median" "min" "cpu"
row "mngr plugin list --no-plugins (ms)" "$none_med" "$none_min" "$none_cpu"
row "mngr plugin list (ms)" "$all_med" "$all_min" "$all_cpu"
awk -v a="$all_med" -v b="$none_med" -v c="$all_min" -v d="$none_min" -v e="$all_cpu" -v f="$none_cpu" -v n="$n_ws" \
  'BEGIN { cpu = (e == "-" ? "-" : sprintf("%.2f", (e - f) / n));
           printf "  %-34s %8.2f %8.2f %8s\n\n", "per plugin (ms)", (a - b) / n, (c - d) / n, cpu }'

# 2. Growth with the number of plugins.
copies="$tmp/copies"
mkdir -p "$copies"
for i in $(seq 1 20); do
  name=$(printf "bench-%06d" "$i")
  perl -0777 -pe "s/example-dirs/$name/g" "$example" >"$copies/libmngr_bench_$i.$ext"
done
make_root "$tmp/r0"
read -r base_med base_min base_cpu <<<"$(measure "$tmp/r0")"
echo "copies of the example plugin (each a distinct plugin name); per-plugin = (N - 0) / N"
printf "  %3s  %8s %8s %8s   %12s %12s %12s\n" N median min cpu "median/plug" "min/plug" "cpu/plug"
printf "  %3d  %8.2f %8.2f %8s\n" 0 "$base_med" "$base_min" "$base_cpu"
for n in 1 5 10 20; do
  files=()
  for i in $(seq 1 "$n"); do files+=("$copies/libmngr_bench_$i.$ext"); done
  make_root "$tmp/r$n" "${files[@]}"
  read -r med min cpu <<<"$(measure "$tmp/r$n")"
  awk -v n="$n" -v m="$med" -v mi="$min" -v c="$cpu" -v bm="$base_med" -v bmi="$base_min" -v bc="$base_cpu" \
    'BEGIN { pc = (c == "-" ? "-" : sprintf("%.3f", (c - bc) / n));
             printf "  %3d  %8.2f %8.2f %8s   %12.3f %12.3f %12s\n", n, m, mi, c, (m - bm) / n, (mi - bmi) / n, pc }'
done
echo
echo "target: under 2 ms per plugin"
