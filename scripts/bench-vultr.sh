#!/usr/bin/env bash
# Benchmark the vultr provider against the Vultr stand-in, in a release build:
#   1. `mngr create --in vultr` of a command agent, its time split into steps (from `mngr -v`
#      timings): API (order until active), boot (until the VPS's sshd answers), cloud-init
#      (until Docker is ready), docker (image check, records, container), the container's
#      sshd, and the agent; beside it the stand-in's own boot breakdown and mngr's overhead
#      (everything but the boot it waits for);
#   2. `mngr list` with HOSTS (default 8) VPS hosts while the stand-in adds 200 ms to every API
#      answer and every SSH connect (its latency knob; a relay in front of each VPS's ports
#      waits before connecting): the total should be close to one host's, not the sum.
# Everything it makes is removed at the end (the stand-in removes its machines on SIGTERM).
#
# Usage: scripts/bench-vultr.sh [HOSTS]   (BENCH_PROFILE=debug: use the debug build)
set -euo pipefail
cd "$(dirname "$0")/.."

HOSTS="${1:-8}"
for image in mngr-base:bookworm mngr-vultr-vps:bookworm; do
  if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "Error: the image $image is missing; run scripts/build-base-image.sh and scripts/build-vps-image.sh" >&2
    exit 1
  fi
done
PROFILE="${BENCH_PROFILE:-release}"   # BENCH_PROFILE=debug reuses the test build
echo "building ($PROFILE)..." >&2
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mngr -p mngr-vultr -p mngr-vultr-standin
else
  cargo build -q -p mngr -p mngr-vultr -p mngr-vultr-standin
fi
MNGR="$PWD/target/$PROFILE/mngr"
STANDIN="$PWD/target/$PROFILE/vultr-standin"

WORK="$(mktemp -d)"
KEY="bench-$$"
export MNGR_ROOT="$WORK/root" MNGR_HEADLESS=1
mkdir -p "$MNGR_ROOT" "$WORK/src"
"$STANDIN" --listen 127.0.0.1:0 --api-key "$KEY" >"$WORK/url" 2>"$WORK/standin.log" &
STANDIN_PID=$!
cleanup() {
  kill -TERM "$STANDIN_PID" 2>/dev/null || true
  wait "$STANDIN_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
for _ in $(seq 1 50); do [ -s "$WORK/url" ] && break; sleep 0.1; done
URL="$(head -n1 "$WORK/url")"
ROOT="${URL%/v2}"
printf '[providers.vultr]\napi_key = "%s"\napi_url = "%s"\n' "$KEY" "$URL" >"$MNGR_ROOT/settings.toml"
cd "$WORK/src"
git init -q . && echo bench >file.txt && git add file.txt
git -c user.email=b@b -c user.name=b commit -qm bench

now_ms() { date +%s%3N; }
# Each stderr line of a command, prefixed with the ms since `start`.
stamp() { local start=$1; while IFS= read -r line; do echo "$(($(now_ms) - start)) $line"; done; }

echo "== mngr create --in vultr (one agent)"
start=$(now_ms)
"$MNGR" create one --in vultr -v -- sleep 1000 2>&1 >/dev/null | stamp "$start" >"$WORK/create.log"
total=$(($(now_ms) - start))
# When a line first appeared (ms since the start), and the N ms a `-v` timing line reports.
at() { grep -m1 "$1" "$WORK/create.log" | cut -d' ' -f1; }
took() { grep -m1 "$1" "$WORK/create.log" | sed -n 's/.* took \([0-9]*\) ms.*/\1/p'; }
ordered=$(at 'ordering a VPS')
api=$(took 'ordering the VPS until it was active')
boot=$(took "waiting for the VPS's sshd")
cloud=$(took 'waiting for cloud-init')
cloud_done=$(at 'waiting for cloud-init took')
sshd=$(took "waiting for the container's sshd")
sshd_done=$(at "waiting for the container's sshd took")
host_done=$(at 'creating the host took')
boot_line=$(grep -m1 'is ok after' "$WORK/standin.log" || true)
boot_s=$(echo "$boot_line" | sed -n 's/.*is ok after \([0-9.]*\)s.*/\1/p')
echo "total                               ${total} ms"
echo "  mngr start, keys, SSH key (API)   ${ordered:-?} ms"
echo "  API: order until active           ${api:-?} ms (polled every 2 s)"
echo "  boot: until the VPS's sshd        ${boot:-?} ms (pinned host key, retried while it boots)"
echo "  cloud-init: until Docker is ready ${cloud:-?} ms"
echo "  docker: image, records, container $((${sshd_done:-0} - ${sshd:-0} - ${cloud_done:-0})) ms"
echo "  sshd: the container's             ${sshd:-?} ms"
echo "  agent: after the host is made     $((total - ${host_done:-0})) ms"
echo "stand-in boot breakdown:            ${boot_line#*: }"
if [ -n "$boot_s" ]; then
  boot_ms=$(awk "BEGIN{printf \"%d\", $boot_s*1000}")
  echo "mngr's own overhead:                $((total - boot_ms)) ms beside a ${boot_ms} ms boot it waits for"
fi
"$MNGR" destroy one --force >/dev/null 2>&1

echo "== mngr list with $HOSTS VPS hosts, 200 ms on every API answer and every SSH connect"
# `wait` on these pids only: the stand-in is a background job too.
pids=()
for i in $(seq 1 "$HOSTS"); do
  "$MNGR" create "h$i" --in vultr -- sleep 1000 >"$WORK/create-h$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
if [ "$failed" -gt 0 ]; then
  echo "$failed of $HOSTS creates failed:" >&2
  grep -h '^Error' "$WORK"/create-h*.log | sort | uniq -c >&2
fi
# The stand-in's latency knob delays every API answer and, through its relay in front of
# each VPS's ports, every TCP connect to a VPS (its sshd and the container's).
curl -s -X POST -d '{"ms": 200}' "$ROOT/__standin/latency" >/dev/null
list_ms() {
  local start best=""
  for _ in 1 2 3; do
    start=$(now_ms)
    "$MNGR" list --provider vultr >/dev/null 2>&1 || true
    local took=$(($(now_ms) - start))
    if [ -z "$best" ] || [ "$took" -lt "$best" ]; then best=$took; fi
  done
  echo "$best"
}
echo "what mngr list shows:"
"$MNGR" list --provider vultr 2>&1 | sed 's/^/  /'
many=$(list_ms)
pids=()
for i in $(seq 2 "$HOSTS"); do "$MNGR" destroy "h$i" --force >/dev/null 2>&1 & pids+=($!); done
wait "${pids[@]}"
one=$(list_ms)
echo "mngr list, $HOSTS hosts: $many ms (best of 3)"
echo "mngr list, 1 host:  $one ms (best of 3); $HOSTS hosts cost $(awk "BEGIN{printf \"%.2f\", $many/$one}")x one"
curl -s -X POST -d '{"ms": 0}' "$ROOT/__standin/latency" >/dev/null
"$MNGR" destroy h1 --force >/dev/null 2>&1
