#!/usr/bin/env bash
# Benchmark the ssh provider: `mngr list` over a pool of 10 existing machines (containers of
# the base image running sshd only, on loopback), one of them dead: an address whose SYNs get
# no answer (a listener whose accept queue is full and never drained, so the kernel drops new
# SYNs, as for a machine that is off or firewalled). The listing must take about one
# connect_timeout, not one per machine; it is compared with the same pool without the dead
# machine. Each live machine runs one agent. Prints the figures; removes everything it made.
#
# Usage: scripts/bench-ssh.sh [RUNS]   (default 5 listings of each kind)
#        MNGR_BENCH_PROFILE=debug scripts/bench-ssh.sh   (use the debug build; default release)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
IMAGE="${MNGR_BASE_IMAGE:-mngr-base:bookworm}"
PROFILE="${MNGR_BENCH_PROFILE:-release}"
TIMEOUT=2

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "Error: the image $IMAGE is missing; run scripts/build-base-image.sh first" >&2
  exit 1
fi
echo "building ($PROFILE)..." >&2
if [ "$PROFILE" = release ]; then
  cargo build --release -q -p mngr -p mngr-ssh
else
  cargo build -q -p mngr -p mngr-ssh
fi
MNGR="$PWD/target/$PROFILE/mngr"

WORK="$(mktemp -d)"
PREFIX="mngrbench$$-"
export MNGR_ROOT="$WORK/root" MNGR_PREFIX="$PREFIX" TMUX_TMPDIR="$WORK/tmux"
mkdir -p "$MNGR_ROOT" "$TMUX_TMPDIR" "$WORK/src" "$WORK/keys"
unset TMUX
BLACKHOLE_PID=""

cleanup() {
  [ -n "$BLACKHOLE_PID" ] && kill "$BLACKHOLE_PID" 2>/dev/null || true
  docker ps -aq --filter "name=^$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# --- the machines: 9 live sshd containers and one blackholed address ------------------------
ssh-keygen -q -t ed25519 -N '' -C bench -f "$WORK/keys/client"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$WORK/keys/ssh_host_ed25519_key"
cp "$WORK/keys/client.pub" "$WORK/keys/authorized_keys"
HOST_KEY="$(cut -d' ' -f1,2 "$WORK/keys/ssh_host_ed25519_key.pub")"
SSHD='mkdir -p /run/sshd /root/.ssh && cp /keys/authorized_keys /root/.ssh/ && chmod 600 /root/.ssh/authorized_keys && exec /usr/sbin/sshd -D -e -h /keys/ssh_host_ed25519_key -o PasswordAuthentication=no'

python3 - "$WORK/blackhole.port" <<'PY' &
import socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(0)
port = listener.getsockname()[1]
held = []
while True:  # fill the accept queue; once full, the kernel drops further SYNs
    c = socket.socket()
    c.settimeout(0.2)
    try:
        c.connect(("127.0.0.1", port))
        held.append(c)
    except (socket.timeout, TimeoutError):
        break
open(sys.argv[1], "w").write(str(port))
time.sleep(1e6)
PY
BLACKHOLE_PID=$!

write_settings() { # $1: include the dead machine (yes/no)
  {
    printf '[providers.pool]\nbackend = "ssh"\nconnect_timeout = %s\n' "$TIMEOUT"
    for i in $(seq 1 9); do
      printf '[providers.pool.hosts.m%s]\naddress = "127.0.0.1"\nport = %s\nkey_file = "%s"\nhost_key = "%s"\n' \
        "$i" "${PORTS[$i]}" "$WORK/keys/client" "$HOST_KEY"
    done
    if [ "$1" = yes ]; then
      printf '[providers.pool.hosts.dead]\naddress = "127.0.0.1"\nport = %s\nkey_file = "%s"\nhost_key = "%s"\n' \
        "$(cat "$WORK/blackhole.port")" "$WORK/keys/client" "$HOST_KEY"
    fi
  } > "$MNGR_ROOT/settings.toml"
}

declare -A PORTS
echo "starting 9 sshd machines..." >&2
for i in $(seq 1 9); do
  cid=$(docker run -d --name "${PREFIX}m$i" -p 127.0.0.1::22 -v "$WORK/keys:/keys:ro" --entrypoint sh "$IMAGE" -c "$SSHD")
  PORTS[$i]=$(docker port "$cid" 22/tcp | head -1 | sed 's/.*://')
done
for _ in $(seq 1 100); do [ -s "$WORK/blackhole.port" ] && break; sleep 0.1; done
[ -s "$WORK/blackhole.port" ] || { echo "Error: the blackhole listener did not start" >&2; exit 1; }
for i in $(seq 1 9); do
  until (exec 3<>"/dev/tcp/127.0.0.1/${PORTS[$i]}" && head -c4 <&3 | grep -q SSH-) 2>/dev/null; do sleep 0.05; done
done

write_settings no
echo "creating one agent on each live machine..." >&2
for i in $(seq 1 9); do
  (cd "$WORK/src" && "$MNGR" create "a$i@m$i.pool" --no-connect -q -- sleep 100000)
done
count=$("$MNGR" list --format '{name}' | grep -c '^a')
[ "$count" -eq 9 ] || { echo "Error: expected 9 agents, list shows $count" >&2; exit 1; }

list_times() {
  local out=() start end
  for _ in $(seq 1 "$RUNS"); do
    start=$(now_ms)
    "$MNGR" list >/dev/null 2>"$WORK/list.err" || true
    end=$(now_ms)
    out+=($((end - start)))
  done
  echo "${out[*]}"
}

"$MNGR" list >/dev/null 2>&1 # warm caches, not counted
LIVE=($(list_times))
write_settings yes
DEAD=($(list_times))
grep -q "host 'dead' of provider 'pool' is offline: no SSH answer" "$WORK/list.err" \
  || { echo "Error: the dead machine was not reported offline:" >&2; cat "$WORK/list.err" >&2; exit 1; }
count=$("$MNGR" list --format '{name}' 2>/dev/null | grep -c '^a')
[ "$count" -eq 9 ] || { echo "Error: with the dead machine, list shows $count agents, not 9" >&2; exit 1; }

live_med=$(printf '%s\n' "${LIVE[@]}" | median)
dead_med=$(printf '%s\n' "${DEAD[@]}" | median)
echo "mngr list, ssh pool, $RUNS runs each (median, ms; $PROFILE build; connect_timeout ${TIMEOUT} s):"
echo "  9 live machines, 9 agents                    ${live_med} ms   (runs: ${LIVE[*]})"
echo "  9 live + 1 dead (SYNs unanswered)            ${dead_med} ms   (runs: ${DEAD[*]})"
awk -v d="$dead_med" -v l="$live_med" -v t="$TIMEOUT" 'BEGIN {
  printf "  dead machine costs                           %d ms (one connect_timeout = %d ms; 10 would be %d ms)\n", d - l, t * 1000, t * 10000 }'
