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
# Uses hyperfine when installed (apt install hyperfine), else a timing loop.
# Target: under 2 ms per plugin.

set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-30}"

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

# Mean wall time in milliseconds of one command line (run through bash -c).
mean_ms() {
  local cmd="$1"
  if command -v hyperfine >/dev/null 2>&1; then
    hyperfine --runs "$runs" --warmup 3 --style none --export-csv "$tmp/h.csv" \
      --shell=bash "$cmd" >/dev/null 2>&1
    awk -F, 'NR == 2 { printf "%.3f", $2 * 1000 }' "$tmp/h.csv"
  else
    local start end
    for _ in 1 2 3; do bash -c "$cmd"; done
    start=$(date +%s%N)
    for ((i = 0; i < runs; i++)); do bash -c "$cmd"; done
    end=$(date +%s%N)
    awk -v ns=$((end - start)) -v n="$runs" 'BEGIN { printf "%.3f", ns / n / 1e6 }'
  fi
}

# A root whose plugins/ holds the given files.
make_root() {
  local root="$1"; shift
  mkdir -p "$root/plugins"
  for f in "$@"; do cp "$f" "$root/plugins/"; done
}

run_in() {
  echo "HOME=$tmp/home MNGR_ROOT=$1 $mngr plugin list $2 >/dev/null 2>&1"
}

echo "tool: $(command -v hyperfine >/dev/null && hyperfine --version || echo 'timing loop'), $runs runs each"
echo

# 1. Every workspace plugin vs --no-plugins.
make_root "$tmp/ws" "${workspace_plugins[@]}"
n_ws=${#workspace_plugins[@]}
none=$(mean_ms "$(run_in "$tmp/ws" --no-plugins)")
all=$(mean_ms "$(run_in "$tmp/ws" "")")
echo "workspace plugins ($n_ws: $(for f in "${workspace_plugins[@]}"; do basename "$f"; done | tr '\n' ' '))"
printf "  mngr plugin list --no-plugins   %8.2f ms\n" "$none"
printf "  mngr plugin list                %8.2f ms\n" "$all"
awk -v a="$all" -v b="$none" -v n="$n_ws" \
  'BEGIN { printf "  per plugin                      %8.2f ms\n\n", (a - b) / n }'

# 2. Growth with the number of plugins.
copies="$tmp/copies"
mkdir -p "$copies"
for i in $(seq 1 20); do
  name=$(printf "bench-%06d" "$i")
  perl -0777 -pe "s/example-dirs/$name/g" "$example" >"$copies/libmngr_bench_$i.$ext"
done
make_root "$tmp/r0"
base=$(mean_ms "$(run_in "$tmp/r0" "")")
echo "copies of the example plugin (each a distinct plugin name)"
printf "  %3s  %10s  %12s\n" N "total ms" "ms/plugin"
printf "  %3d  %10.2f  %12s\n" 0 "$base" "-"
for n in 1 5 10 20; do
  files=()
  for i in $(seq 1 "$n"); do files+=("$copies/libmngr_bench_$i.$ext"); done
  make_root "$tmp/r$n" "${files[@]}"
  t=$(mean_ms "$(run_in "$tmp/r$n" "")")
  awk -v t="$t" -v b="$base" -v n="$n" 'BEGIN { printf "  %3d  %10.2f  %12.3f\n", n, t, (t - b) / n }'
done
echo
echo "target: under 2 ms per plugin"
