#!/usr/bin/env bash
# Benchmark file and port transfer to a docker agent, release build, on the base image, in one run:
#   1. `mngr forward` throughput: MB/s reading a stream from a server on the agent's host through
#      the forward, against a direct TCP connection to the same server (the container's address);
#   2. `mngr rsync` of a tree to the agent's host, against plain `rsync -e ssh` with the same
#      client key and the same pinned host key (a fresh destination each run).
# Prints the figures (medians). Everything it makes is removed at the end.
#
# Usage: scripts/bench-sync.sh [RUNS]   (default 3 runs of each measurement)
#   BENCH_STREAM_MB (default 256): size of the forwarded stream; BENCH_TREE_MB (default 64).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-3}"
STREAM_MB="${BENCH_STREAM_MB:-256}"
TREE_MB="${BENCH_TREE_MB:-64}"
. scripts/lib/docker-bench.sh

WORK="$(mktemp -d)"
PREFIX="mngrbench$$-"
export MNGR_ROOT="$WORK/root" MNGR_PREFIX="$PREFIX" TMUX_TMPDIR="$WORK/tmux" HOME="$WORK/home"
export MNGR__PROVIDERS__DOCKER__IS_ENABLED=true
mkdir -p "$MNGR_ROOT" "$TMUX_TMPDIR" "$HOME" "$WORK/src" "$WORK/tree"
unset TMUX
FORWARD_PID=""
cleanup() {
  [ -n "$FORWARD_PID" ] && kill "$FORWARD_PID" 2>/dev/null || true
  "$MNGR" destroy bench --force >/dev/null 2>&1 || true
  docker ps -aq --filter "name=^$PREFIX" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume ls -q --filter "name=^$PREFIX" | xargs -r docker volume rm -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# A server on the agent's host: each connection gets STREAM_MB MiB, then the server closes it.
cat > "$WORK/src/server.pl" <<PERL
use IO::Socket::INET;
\$SIG{PIPE} = "IGNORE";   # a client that leaves early must not end the server
my \$s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 9000, Listen => 5, ReuseAddr => 1) or die \$!;
my \$block = "x" x 1048576;
while (my \$c = \$s->accept) { for (1 .. $STREAM_MB) { print \$c \$block or last } close \$c }
PERL
cd "$WORK/src"
"$MNGR" create bench --in docker --no-connect -- perl server.pl >/dev/null
cd - >/dev/null
CONTAINER="${PREFIX}bench"
DIRECT_IP="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$CONTAINER")"
until "$MNGR" exec bench "perl -MIO::Socket::INET -e 'IO::Socket::INET->new(\"127.0.0.1:9000\") or exit 1'" >/dev/null 2>&1; do
  sleep 0.2
done

# MB/s of reading one whole stream from ADDR:PORT.
read_mbps() {
  python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])))
t, n = time.perf_counter(), 0
while True:
    b = s.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(f"{n / (time.perf_counter() - t) / 1e6:.1f}")
PY
}

"$MNGR" forward bench 0:9000 --format '{listen_port}' > "$WORK/forward.out" &
FORWARD_PID=$!
until [ -s "$WORK/forward.out" ]; do sleep 0.05; done
FORWARD_PORT="$(head -1 "$WORK/forward.out")"

forward_mbps=$(for _ in $(seq "$RUNS"); do read_mbps 127.0.0.1 "$FORWARD_PORT"; done | median)
direct_mbps=$(for _ in $(seq "$RUNS"); do read_mbps "$DIRECT_IP" 9000; done | median)
kill "$FORWARD_PID"; wait "$FORWARD_PID" 2>/dev/null || true; FORWARD_PID=""

# A tree: one big file and many small ones, TREE_MB MiB in all, random bytes (no compression).
head -c $((TREE_MB / 2 * 1048576)) /dev/urandom > "$WORK/tree/big.bin"
mkdir -p "$WORK/tree/small"
for i in $(seq 512); do head -c $((TREE_MB * 1024)) /dev/urandom > "$WORK/tree/small/f$i"; done

# The host's client key and the known_hosts (only the pinned key) that mngr keeps for it.
KEY="$(find "$MNGR_ROOT" -name id_ed25519 -path '*keys*' | head -1)"
KNOWN="$(dirname "$KEY")/known_hosts"
"$MNGR" rsync "$WORK/tree/" bench:warm/ -q   # writes known_hosts, warms the caches
PORT="$(sed -n 's/^\[[^]]*\]:\([0-9]*\) .*/\1/p' "$KNOWN" | head -1)"
ADDRESS="$(sed -n 's/^\[\([^]]*\)\]:.*/\1/p' "$KNOWN" | head -1)"

secs() { local s e; s=$(date +%s%N); "$@" >/dev/null; e=$(date +%s%N); echo "scale=3; ($e - $s) / 1000000000" | bc; }
mngr_rsync() { "$MNGR" exec bench 'rm -rf /tmp/m' >/dev/null; secs "$MNGR" rsync "$WORK/tree/" bench:/tmp/m/ -q; }
plain_rsync() {
  "$MNGR" exec bench 'rm -rf /tmp/p' >/dev/null
  secs rsync -a -e "ssh -i $KEY -p $PORT -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$KNOWN -o GlobalKnownHostsFile=/dev/null -o IdentitiesOnly=yes" \
    "$WORK/tree/" "root@$ADDRESS:/tmp/p/"
}
mngr_s=$(for _ in $(seq "$RUNS"); do mngr_rsync; done | median)
plain_s=$(for _ in $(seq "$RUNS"); do plain_rsync; done | median)

echo "mngr sync benchmarks (release build, median of $RUNS runs)"
printf '  forward: %s MiB stream through mngr forward   %8s MB/s\n' "$STREAM_MB" "$forward_mbps"
printf '  forward: same stream, direct to the container %8s MB/s\n' "$direct_mbps"
printf '  rsync:   %s MiB tree (513 files), mngr rsync   %8s s\n' "$TREE_MB" "$mngr_s"
printf '  rsync:   same tree, plain rsync -e ssh          %8s s\n' "$plain_s"
