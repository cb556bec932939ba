#!/usr/bin/env bash
# Benchmark the modal provider against the Modal stand-in (Docker-backed):
#   1. `mngr create --in modal` of a command agent, its time split into the plugin's steps
#      (image layers, sandbox create and schedule, tunnel + provisioning through the command
#      router, sshd, then the agent over SSH), from `mngr -v` and the plugin's progress lines;
#      the first create builds the image, a second one finds it cached. The stand-in's waits
#      are the image, sandbox and sshd steps; mngr's own overhead is the rest.
#   2. `mngr list` with HOSTS (default 10) sandboxes: one SandboxList call plus a probe per
#      host run concurrently, so the total should be close to one probe, not the sum.
# Everything it makes is removed at the end (the stand-in removes its containers on SIGTERM).
#
# Usage: scripts/bench-modal.sh [HOSTS]   (BENCH_PROFILE=release: use a release build)
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS="${1:-10}"
if ! docker image inspect mngr-base:bookworm >/dev/null 2>&1; then
  echo "Error: the image mngr-base:bookworm is missing; run scripts/build-base-image.sh" >&2
  exit 1
fi
PROFILE="${BENCH_PROFILE:-debug}"
echo "building ($PROFILE)..." >&2
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mngr -p mngr-modal -p mngr-modal-standin
else
  cargo build -q -p mngr -p mngr-modal -p mngr-modal-standin
fi
MNGR="$PWD/target/$PROFILE/mngr"
STANDIN="$PWD/target/$PROFILE/modal-standin"

WORK="$(mktemp -d)"
export MNGR_ROOT="$WORK/root" MNGR_HEADLESS=1
export MODAL_TOKEN_ID="ak-bench-$$" MODAL_TOKEN_SECRET="as-bench-$$" MODAL_CONFIG_PATH="$WORK/none.toml"
export MNGR__PROVIDERS__MODAL__IS_ENABLED=true
mkdir -p "$MNGR_ROOT" "$WORK/src"
MODAL_STANDIN_TOKEN_ID="$MODAL_TOKEN_ID" MODAL_STANDIN_TOKEN_SECRET="$MODAL_TOKEN_SECRET" \
  "$STANDIN" --listen 127.0.0.1:0 >"$WORK/url" 2>"$WORK/standin.log" &
STANDIN_PID=$!
cleanup() {
  "$MNGR" list --format json 2>/dev/null | grep -o '"name": *"[^"]*"' >/dev/null || true
  kill -TERM "$STANDIN_PID" 2>/dev/null || true
  wait "$STANDIN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 100); do [ -s "$WORK/url" ] && break; sleep 0.1; done
export MODAL_SERVER_URL="$(head -n1 "$WORK/url")"
cd "$WORK/src"
git init -q . && echo bench >file.txt && git add file.txt
git -c user.email=b@b -c user.name=b commit -qm bench

now_ms() { date +%s%3N; }
# Each stderr line of a command, prefixed with the ms since `start`.
stamp() { local start=$1; while IFS= read -r line; do echo "$(($(now_ms) - start)) $line"; done; }

create_split() {
  local name=$1 log="$WORK/create-$1.log"
  local start total
  start=$(now_ms)
  "$MNGR" create "$name" --in modal --no-connect -v -- sleep 1000 2>&1 >/dev/null | stamp "$start" >"$log"
  total=$(($(now_ms) - start))
  step() { grep -m1 "$1" "$log" | cut -d' ' -f1; }
  local image sandbox tunnel sshd host_ready
  image=$(step 'building modal image'); sandbox=$(step 'starting modal sandbox')
  tunnel=$(step 'opening the tunnel'); sshd=$(step 'waiting for sshd')
  # The first line after sshd's wait: the host is up and mngr works over SSH.
  host_ready=$(awk -v s="${sshd:-0}" '$1 > s && !/waiting for sshd/ {print $1; exit}' "$log")
  local t_image=$((sandbox - image)) t_sandbox=$((tunnel - sandbox))
  local t_tunnel=$((sshd - tunnel)) t_sshd=$((host_ready - sshd)) t_agent=$((total - host_ready))
  local waits=$((t_image + t_sandbox + t_tunnel + t_sshd))
  echo "total                          ${total} ms"
  echo "  before the image (settings, keys, lock)   ${image} ms"
  echo "  image layers (stand-in builds)            ${t_image} ms"
  echo "  sandbox create + schedule                 ${t_sandbox} ms"
  echo "  tunnel + provisioning via router          ${t_tunnel} ms"
  echo "  sshd answering                            ${t_sshd} ms"
  echo "  agent over SSH (tmux, records)            ${t_agent} ms"
  echo "waiting for the stand-in: ${waits} ms; mngr's own: $((total - waits)) ms"
}

echo "== mngr create --in modal (first: builds the image)"
create_split first
echo "== mngr create --in modal (second: image cached)"
create_split second

echo "== $HOSTS sandboxes"
for i in $(seq 3 "$HOSTS"); do
  "$MNGR" create "h$i" --in modal --no-connect -- sleep 1000 >/dev/null 2>&1
done
echo "== mngr list with $HOSTS hosts (3 runs)"
for run in 1 2 3; do
  start=$(now_ms)
  "$MNGR" list -v >/dev/null 2>"$WORK/list.log"
  total=$(($(now_ms) - start))
  listing=$(sed -n "s/^debug: provider 'modal': listing hosts took \([0-9]*\) ms/\1/p" "$WORK/list.log" | head -1)
  echo "run $run: total ${total} ms; modal's listing (one SandboxList + the volume's records) ${listing:-?} ms"
done
# Every kind of step of the last list: how often it ran and its slowest run. Per-host steps
# running concurrently show a slowest run close to the total, not a sum.
echo "steps of the last list (count, slowest ms, sum ms):"
sed -n 's/^debug: \(.*\) took \([0-9]*\) ms.*/\2\t\1/p' "$WORK/list.log" |
  sed "s/'[^']*'/X/g; s/ [a-z0-9-]*@[^ ]*/ AGENT/g" |
  awk -F'\t' '{n[$2]++; s[$2]+=$1; if ($1>m[$2]) m[$2]=$1} END {for (k in n) printf "  %3d %6d %7d  %s\n", n[k], m[k], s[k], k}' |
  sort -k2 -n -r | head -20

for name in first second $(seq -f 'h%g' 3 "$HOSTS"); do
  "$MNGR" destroy "$name" --force >/dev/null 2>&1 || true
done
