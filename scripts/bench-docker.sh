#!/usr/bin/env bash
# Benchmark the docker provider on the real engine, in a release build, on the base image:
#   1. `mngr create --in docker --no-connect` of a command agent, until the agent runs, against
#      the floor: a bare `docker run` of the same image with sshd plus ssh answering a first
#      command (target: mngr within 1.3x of the floor);
#   2. `mngr list` with 10 docker hosts running.
# Prints the figures. Everything it makes is removed at the end.
#
# Usage: scripts/bench-docker.sh [RUNS]   (default 5 runs of each create measurement)
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-5}"
. scripts/lib/docker-bench.sh

WORK="$(mktemp -d)"
PREFIX="mngrbench$$-"
export MNGR_ROOT="$WORK/root" MNGR_PREFIX="$PREFIX" TMUX_TMPDIR="$WORK/tmux"
mkdir -p "$MNGR_ROOT" "$TMUX_TMPDIR" "$WORK/src" "$WORK/keys"
unset TMUX
echo "bench" > "$WORK/src/file.txt"

cleanup() {
  docker ps -aq --filter "name=^$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker ps -aq --filter "label=mngr-bench-floor=$$" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume ls -q --filter "name=^$PREFIX" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$PREFIX" | xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }

# --- the floor: bare container start + sshd answering a first command -----------------------
ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/client"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/keys/ssh_host_ed25519_key"
cp "$WORK/keys/client.pub" "$WORK/keys/authorized_keys"
chmod 600 "$WORK/keys/authorized_keys"
FLOOR_CMD='mkdir -p /run/sshd /root/.ssh && cp /keys/authorized_keys /root/.ssh/ && chmod 600 /root/.ssh/authorized_keys && /usr/sbin/sshd -h /keys/ssh_host_ed25519_key -o PasswordAuthentication=no && exec tail -f /dev/null'

floor_once() {
  local start end cid port
  start=$(now_ms)
  cid=$(docker run -d --label "mngr-bench-floor=$$" -p :22 -v "$WORK/keys:/keys:ro" --entrypoint sh "$IMAGE" -c "$FLOOR_CMD")
  port=$(docker port "$cid" 22/tcp | head -1 | sed 's/.*://')
  printf '[127.0.0.1]:%s %s\n' "$port" "$(cat "$WORK/keys/ssh_host_ed25519_key.pub")" > "$WORK/keys/known_hosts"
  until ssh -q -i "$WORK/keys/client" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=yes \
      -o UserKnownHostsFile="$WORK/keys/known_hosts" -o ConnectTimeout=2 root@127.0.0.1 true 2>/dev/null; do
    sleep 0.01
  done
  end=$(now_ms)
  docker rm -f "$cid" >/dev/null
  echo $((end - start))
}

mngr_once() {
  local name="c$1" start end state
  start=$(now_ms)
  (cd "$WORK/src" && "$MNGR" create "$name" --in docker --no-connect -q -- sleep 1000)
  end=$(now_ms)
  state=$("$MNGR" list --format '{name} {state}' | awk -v n="$name" '$1 == n {print $2}')
  case "$state" in
    RUNNING|WAITING) ;;
    *) echo "Error: agent $name is '$state' after create" >&2; exit 1 ;;
  esac
  "$MNGR" destroy "$name" -f -q >/dev/null
  echo $((end - start))
}

# One of each to warm caches (image layers, page cache), not counted.
floor_once >/dev/null
mngr_once warm >/dev/null

FLOOR=()
MNGR_T=()
for i in $(seq 1 "$RUNS"); do
  FLOOR+=("$(floor_once)")
  MNGR_T+=("$(mngr_once "$i")")
done
floor_med=$(printf '%s\n' "${FLOOR[@]}" | median)
mngr_med=$(printf '%s\n' "${MNGR_T[@]}" | median)

echo "docker create, $RUNS runs each (median, ms):"
echo "  floor: docker run + sshd answering ssh true   ${floor_med} ms   (runs: ${FLOOR[*]})"
echo "  mngr create --in docker --no-connect          ${mngr_med} ms   (runs: ${MNGR_T[*]})"
awk -v m="$mngr_med" -v f="$floor_med" 'BEGIN {printf "  ratio mngr/floor                               %.2fx (target <= 1.30x)\n", m / f}'

# --- mngr list with 10 docker hosts running ------------------------------------------------
echo "creating 10 docker hosts..." >&2
for i in $(seq 1 10); do
  (cd "$WORK/src" && "$MNGR" create "l$i" --in docker --no-connect -q -- sleep 1000)
done
count=$("$MNGR" list --format '{name}' | grep -c '^l')
[ "$count" -eq 10 ] || { echo "Error: expected 10 agents, list shows $count" >&2; exit 1; }
LIST=()
for i in $(seq 1 10); do
  start=$(now_ms)
  "$MNGR" list >/dev/null
  end=$(now_ms)
  LIST+=($((end - start)))
done
list_med=$(printf '%s\n' "${LIST[@]}" | median)
echo "mngr list with 10 docker hosts running: ${list_med} ms median of 10 (runs: ${LIST[*]})"

for i in $(seq 1 10); do "$MNGR" destroy "l$i" -f -q >/dev/null; done
