//! The activity watcher that runs on every host, and the host's `commands/shutdown.sh`. How a
//! host stops is the provider's choice ([`StopAction`]): a container's PID 1 is signalled, a
//! VM shuts down, a sandbox calls its provider's API.

use mngr_plugin_api::ActivitySource;

/// How a host stops itself. The watcher stops it for one of two reasons, `idle` (mngr lists
/// the host PAUSED) and `no_agents` (STOPPED); `commands/shutdown.sh` stops it as `requested`.
#[derive(Debug, Clone, PartialEq)]
pub enum StopAction {
    /// Signal PID 1: USR1 when idle, USR2 when no agent is left, TERM when requested. A
    /// container's init exits with a code per signal, which the provider reads back as the
    /// reason.
    SignalInit,
    /// Power the machine off (`shutdown -h now`), as on a VM. The reason is in
    /// `<host_dir>/logs/shutdown.log`.
    Shutdown,
    /// Run this `sh` command with `MNGR_STOP_REASON` set to `idle`, `no_agents` or
    /// `requested` (a call to the provider's API, say).
    Command(String),
}

impl StopAction {
    /// The watcher's stop step; `$1` holds the reason.
    fn watcher_command(&self) -> String {
        match self {
            StopAction::SignalInit => {
                r#"if [ "$1" = idle ]; then kill -USR1 1; else kill -USR2 1; fi"#.to_string()
            }
            StopAction::Shutdown => "shutdown -h now".to_string(),
            StopAction::Command(command) => {
                format!("MNGR_STOP_REASON=\"$1\"; export MNGR_STOP_REASON; {command}")
            }
        }
    }
}

/// The idle watcher, configured when the host is made (timeout, sources, session prefix).
/// Every interval it finds the newest activity mtime; past the timeout it stops the host
/// (PAUSED). When no tmux session of the prefix is left after a grace period it stops the
/// host too (STOPPED). `stop` says how (see [`StopAction`]). It does nothing while someone holds the host lock, and takes the lock
/// itself to shut down, so it never stops a host in the middle of an operation.
pub fn activity_watcher(
    idle_timeout: u64,
    sources: &[ActivitySource],
    session_prefix: &str,
    stop: &StopAction,
) -> String {
    let stop = stop.watcher_command();
    let sources: Vec<String> = sources
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    let sources = sources.join(" ");
    let prefix = session_prefix.replace('\'', "");
    format!(
        r#"#!/bin/sh
# Written by mngr. Stops this host when its agents have been idle.
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
  {stop}
  exit 0
}}

while sleep "$INTERVAL"; do
  # Someone holds the host lock: an operation is under way.
  if [ -e "$HD/host_lock" ] && ! flock -n "$HD/host_lock" true; then continue; fi
  now=$(date +%s)
  if [ $(( now - $(newest_activity) )) -gt "$TIMEOUT" ]; then
    stop_host idle "idle for more than $TIMEOUT s"
  fi
  if ! tmux ls -F '#{{session_name}}' 2>/dev/null | grep -q "^$PREFIX"; then
    if [ $(( now - $(newest_agent_or_boot) )) -gt "$GRACE" ]; then
      stop_host no_agents "no agent sessions left"
    fi
  fi
done
"#
    )
}

/// `commands/shutdown.sh`: the documented way for anything on the host to stop it.
pub fn shutdown_script(stop: &StopAction) -> String {
    let command = match stop {
        StopAction::SignalInit => "kill -TERM 1".to_string(),
        StopAction::Shutdown => "shutdown -h now".to_string(),
        StopAction::Command(command) => {
            format!("MNGR_STOP_REASON=requested; export MNGR_STOP_REASON; {command}")
        }
    };
    format!("#!/bin/sh\n# Written by mngr: stop this host.\n{command}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn syntax_ok(script: &str) {
        let out = Command::new("sh")
            .args(["-n", "-c", script])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn each_stop_action_renders_its_own_stop_step() {
        let cases = [
            (
                StopAction::SignalInit,
                "kill -USR1 1; else kill -USR2 1",
                "kill -TERM 1",
            ),
            (StopAction::Shutdown, "shutdown -h now", "shutdown -h now"),
            (
                StopAction::Command("curl -X POST http://api/stop".into()),
                "MNGR_STOP_REASON=\"$1\"; export MNGR_STOP_REASON; curl -X POST http://api/stop",
                "MNGR_STOP_REASON=requested; export MNGR_STOP_REASON; curl -X POST http://api/stop",
            ),
        ];
        for (stop, in_watcher, in_shutdown) in cases {
            let watcher = activity_watcher(300, &[ActivitySource::Agent], "mngr-", &stop);
            assert!(watcher.contains(in_watcher), "{stop:?}:\n{watcher}");
            assert!(watcher.contains("TIMEOUT=300\nSOURCES='agent'\nPREFIX='mngr-'"));
            syntax_ok(&watcher);
            let shutdown = shutdown_script(&stop);
            assert!(shutdown.starts_with("#!/bin/sh\n"));
            assert!(
                shutdown.ends_with(&format!("{in_shutdown}\n")),
                "{shutdown}"
            );
            syntax_ok(&shutdown);
        }
    }

    /// The watcher itself, run: a host idle past its timeout is stopped with reason `idle`,
    /// under the host lock, and the stop is logged.
    #[test]
    fn an_idle_host_is_stopped_with_the_idle_reason() {
        let hd = tempfile::tempdir().unwrap();
        for dir in ["activity", "logs"] {
            std::fs::create_dir(hd.path().join(dir)).unwrap();
        }
        let boot = hd.path().join("activity/boot");
        std::fs::write(&boot, "").unwrap();
        let reason = hd.path().join("reason");
        let stop = StopAction::Command(format!(
            "echo \"$MNGR_STOP_REASON\" > '{}'",
            reason.display()
        ));
        let script = activity_watcher(1, &[ActivitySource::Boot], "mngr-test-none-", &stop);
        let run = Command::new("sh")
            .args(["-c", &script, "watcher"])
            .arg(hd.path())
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        assert_eq!(std::fs::read_to_string(&reason).unwrap().trim(), "idle");
        let log = std::fs::read_to_string(hd.path().join("logs/shutdown.log")).unwrap();
        assert!(log.contains("stopping: idle for more than 1 s"), "{log}");
        assert_eq!(
            std::fs::read_to_string(hd.path().join("host_lock.generation"))
                .unwrap()
                .trim(),
            "1"
        );
    }
}
