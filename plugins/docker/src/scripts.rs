//! The shell that runs inside host containers: PID 1 and the idle watcher.

use crate::labels::{EXIT_IDLE_PAUSED, EXIT_NO_AGENTS_STOPPED};
use mngr_plugin_api::ActivitySource;

/// PID 1 of a host container. It starts sshd once mngr has injected the keys (marker file),
/// marks boot activity, starts the idle watcher, and then waits. Signals say why it ended:
/// TERM (docker stop) exits 0, USR1 (idle) and USR2 (no agent sessions left) exit with codes
/// that `mngr list` reads back as PAUSED and STOPPED.
pub fn entrypoint(host_dir: &str) -> String {
    format!(
        "trap 'exit 0' TERM; trap 'exit {EXIT_IDLE_PAUSED}' USR1; trap 'exit {EXIT_NO_AGENTS_STOPPED}' USR2; \
HD='{host_dir}'; mkdir -p /run/sshd \"$HD/activity\" \"$HD/logs\"; \
if [ -f /etc/ssh/mngr_host_provisioned ]; then /usr/sbin/sshd -o MaxSessions=100 -o PasswordAuthentication=no \
-o PermitRootLogin=prohibit-password -o UseDNS=no -o UsePAM=no -o PrintMotd=no -o PrintLastLog=no -E \"$HD/logs/sshd.log\"; fi; \
touch \"$HD/activity/boot\"; \
if [ -x \"$HD/commands/activity_watcher.sh\" ]; then \
nohup \"$HD/commands/activity_watcher.sh\" \"$HD\" >\"$HD/logs/activity_watcher.log\" 2>&1 & fi; \
tail -f /dev/null & wait"
    )
}

/// The command of the state container: idle until stopped.
pub const STATE_CONTAINER_CMD: &str = "trap 'exit 0' TERM; tail -f /dev/null & wait";

/// The idle watcher, configured when the host is made (timeout, sources, session prefix).
/// Every interval it finds the newest activity mtime; past the timeout it stops the host
/// (PAUSED). When no tmux session of the prefix is left after a grace period it stops the
/// host too (STOPPED). It does nothing while someone holds the host lock, and takes the lock
/// itself to shut down, so it never stops a host in the middle of an operation.
pub fn activity_watcher(
    idle_timeout: u64,
    sources: &[ActivitySource],
    session_prefix: &str,
) -> String {
    let sources: Vec<String> = sources
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    let sources = sources.join(" ");
    let prefix = session_prefix.replace('\'', "");
    format!(
        r#"#!/bin/sh
# Written by mngr (docker provider). Stops this container when its agents have been idle.
HD="$1"
TIMEOUT={idle_timeout}
SOURCES='{sources}'
PREFIX='{prefix}'
[ -z "$SOURCES" ] && exit 0
INTERVAL=15
[ "$TIMEOUT" -lt 45 ] && INTERVAL=$(( TIMEOUT / 3 ))
[ "$INTERVAL" -lt 1 ] && INTERVAL=1
GRACE=120
[ "$TIMEOUT" -lt "$GRACE" ] && GRACE=$TIMEOUT

mtime() {{ stat -c %Y "$1" 2>/dev/null || echo 0; }}

newest_activity() {{
  n=0
  for s in $SOURCES; do
    case "$s" in
      boot|user|ssh) set -- "$HD/activity/$s" ;;
      *) set -- "$HD"/agents/*/activity/"$s" ;;
    esac
    for f in "$@"; do
      [ -e "$f" ] || continue
      m=$(mtime "$f"); [ "$m" -gt "$n" ] && n=$m
    done
  done
  echo "$n"
}}

newest_agent_or_boot() {{
  n=$(mtime "$HD/activity/boot")
  for d in "$HD"/agents/*/; do
    [ -d "$d" ] || continue
    m=$(mtime "$d"); [ "$m" -gt "$n" ] && n=$m
  done
  echo "$n"
}}

stop_host() {{
  exec 9>>"$HD/host_lock"
  if ! flock -n 9; then exec 9>&-; return; fi
  g=$(cat "$HD/host_lock.generation" 2>/dev/null || echo 0)
  echo $(( g + 1 )) > "$HD/host_lock.generation"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) stopping: $2" >> "$HD/logs/shutdown.log"
  kill -"$1" 1
  exit 0
}}

while sleep "$INTERVAL"; do
  # Someone holds the host lock: an operation is under way.
  if [ -e "$HD/host_lock" ] && ! flock -n "$HD/host_lock" true; then continue; fi
  now=$(date +%s)
  if [ $(( now - $(newest_activity) )) -gt "$TIMEOUT" ]; then
    stop_host USR1 "idle for more than $TIMEOUT s"
  fi
  if ! tmux ls -F '#{{session_name}}' 2>/dev/null | grep -q "^$PREFIX"; then
    if [ $(( now - $(newest_agent_or_boot) )) -gt "$GRACE" ]; then
      stop_host USR2 "no agent sessions left"
    fi
  fi
done
"#
    )
}

/// `commands/shutdown.sh`: the documented way for anything on the host to stop it.
pub const SHUTDOWN_SCRIPT: &str =
    "#!/bin/sh\n# Written by mngr (docker provider): stop this host.\nkill -TERM 1\n";
