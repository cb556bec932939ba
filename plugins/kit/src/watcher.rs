//! The activity watcher that runs on every host, and the host's `commands/shutdown.sh`. How a
//! host stops is the provider's choice ([`StopAction`]): a container's PID 1 is signalled, a
//! VM shuts down, a sandbox calls its provider's API.

use mngr_plugin_api::ActivitySource;

/// How a host stops itself. The watcher stops it for one of two reasons, `idle` (mngr lists
/// the host PAUSED) and `no_agents` (STOPPED); `commands/shutdown.sh` stops it as `requested`.
#[derive(Debug, Clone, PartialEq)]
pub enum StopAction {
    /// Signal PID 1: USR1 when idle, HUP when the maximum lifetime is reached, USR2 when no
    /// agent is left, TERM when requested. A
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
    /// What the watcher does once its stop step returned. A signal or a power-off takes the
    /// host down with the lock still held; if it is still up after `HOLD` s the stop failed:
    /// log it and watch again. A command only asks someone else (a provider's API, the next
    /// mngr) to stop the host, who may need the lock: release it and end.
    fn after_stop(&self) -> &'static str {
        match self {
            StopAction::SignalInit | StopAction::Shutdown => {
                r#"sleep "$HOLD"
  echo "$(now_iso) the stop did not take effect after $HOLD s; watching again" >> "$HD/logs/shutdown.log"
  rm -f "$HD/stop.json"
  exec 9>&-"#
            }
            StopAction::Command(_) => "exit 0",
        }
    }

    /// The watcher's stop step; `$1` holds the reason.
    fn watcher_command(&self) -> String {
        match self {
            StopAction::SignalInit => {
                r#"case "$1" in no_agents) kill -USR2 1 ;; timeout) kill -HUP 1 ;; *) kill -USR1 1 ;; esac"#.to_string()
            }
            StopAction::Shutdown => "shutdown -h now".to_string(),
            StopAction::Command(command) => {
                format!("MNGR_STOP_REASON=\"$1\"; export MNGR_STOP_REASON; {command}")
            }
        }
    }
}

/// How long the watcher keeps the host lock after its stop step, waiting for the host to
/// go down, before it decides the stop failed, logs that, and watches again.
const STOP_HOLD_SECONDS: u64 = 120;

/// The idle watcher. Every loop it reads the idle settings from `<host_dir>/data.json`
/// (`idle_timeout_seconds`, `activity_sources`, `max_host_age`), so `mngr limit` changes a
/// running host; the values given here count only while that file cannot be read. It records
/// agent output as `agents/ID/activity/agent` (the tmux window's last-output time) and open
/// SSH sessions as `activity/ssh`, then finds the newest activity of the chosen sources. Past
/// the timeout it stops the host (`idle`, PAUSED); past `max_host_age` since boot it stops it
/// as `timeout`; when no tmux session of the prefix is left after a grace period, as
/// `no_agents` (STOPPED). Before stopping it writes `<host_dir>/stop.json` (reason, the
/// activity that last counted) and a line in `logs/shutdown.log`. It does nothing while
/// someone holds the host lock, and holds the lock itself from the decision until the host is
/// gone (for [`StopAction::Command`]: until the command returned), so it never stops a host
/// in the middle of an operation.
pub fn activity_watcher(
    idle_timeout: u64,
    sources: &[ActivitySource],
    session_prefix: &str,
    stop: &StopAction,
) -> String {
    let after = stop.after_stop();
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
DEFAULT_TIMEOUT={idle_timeout}
DEFAULT_SOURCES='{sources}'
PREFIX='{prefix}'
HOLD={STOP_HOLD_SECONDS}

mtime() {{ stat -c %Y "$1" 2>/dev/null || echo 0; }}
now_iso() {{ date -u +%Y-%m-%dT%H:%M:%SZ; }}
iso_of() {{ date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo "$1"; }}

# The idle settings of data.json (pretty or compact JSON), else the defaults above.
load_settings() {{
  TIMEOUT=$DEFAULT_TIMEOUT; SOURCES=$DEFAULT_SOURCES; MAX_AGE=
  j=$(tr -d ' \t\r\n' < "$HD/data.json" 2>/dev/null) || j=
  t=$(printf '%s' "$j" | sed -n 's/.*"idle_timeout_seconds":\([0-9][0-9]*\).*/\1/p')
  [ -n "$t" ] && TIMEOUT=$t
  s=$(printf '%s' "$j" | sed -n 's/.*"activity_sources":\[\([^]]*\)\].*/[\1]/p')
  [ -n "$s" ] && SOURCES=$(printf '%s' "$s" | tr -d '[]"' | tr ',' ' ' | tr 'A-Z' 'a-z')
  MAX_AGE=$(printf '%s' "$j" | sed -n 's/.*"max_host_age":\([0-9][0-9]*\).*/\1/p')
  INTERVAL=15
  [ "$TIMEOUT" -lt 45 ] && INTERVAL=$(( TIMEOUT / 3 ))
  [ "$INTERVAL" -lt 1 ] && INTERVAL=1
  GRACE=120
  [ "$TIMEOUT" -lt "$GRACE" ] && GRACE=$TIMEOUT
}}

# Activity the watcher sees itself: output in an agent's tmux windows, open SSH sessions,
# clients attached to tmux.
record_activity() {{
  tmux list-windows -a -F '#{{@mngr_agent_id}} #{{window_activity}}' 2>/dev/null |
  while read -r id t; do
    f="$HD/agents/$id/activity/agent"
    [ -n "$id" ] && [ -d "$HD/agents/$id/activity" ] || continue
    [ "$t" -gt "$(mtime "$f")" ] && {{ touch -d "@$t" "$f" 2>/dev/null || touch "$f"; }}
  done
  if grep -aqsE '^sshd(-session)?: [^ ]+@' /proc/[0-9]*/cmdline; then touch "$HD/activity/ssh"; fi
  # Someone attached to a session (`mngr connect`) is a user at work.
  [ -n "$(tmux list-clients 2>/dev/null)" ] && touch "$HD/activity/user"
}}

# Sets NEWEST (mtime) and NEWEST_SOURCE, over the enabled sources.
newest_activity() {{
  NEWEST=0; NEWEST_SOURCE=none
  for s in $SOURCES; do
    case "$s" in
      boot|user|ssh) set -- "$HD/activity/$s" ;;
      *) set -- "$HD"/agents/*/activity/"$s" ;;
    esac
    for f in "$@"; do
      [ -e "$f" ] || continue
      m=$(mtime "$f"); [ "$m" -gt "$NEWEST" ] && {{ NEWEST=$m; NEWEST_SOURCE=$s; }}
    done
  done
}}

newest_agent_or_boot() {{
  n=$(mtime "$HD/activity/boot")
  for d in "$HD"/agents/*/; do
    [ -d "$d" ] || continue
    m=$(mtime "$d"); [ "$m" -gt "$n" ] && n=$m
  done
  echo "$n"
}}

# stop_host REASON MESSAGE: under the host lock (or not at all), record why and stop.
stop_host() {{
  exec 9>>"$HD/host_lock"
  if ! flock -n 9; then exec 9>&-; return; fi
  g=$(cat "$HD/host_lock.generation" 2>/dev/null || echo 0)
  echo $(( g + 1 )) > "$HD/host_lock.generation"
  last=null; [ "$NEWEST" -gt 0 ] && last="\"$(iso_of "$NEWEST")\""
  printf '{{"reason":"%s","message":"%s","time":"%s","last_activity_source":"%s","last_activity_time":%s,"idle_timeout_seconds":%s,"activity_sources":"%s"}}\n' \
    "$1" "$2" "$(now_iso)" "$NEWEST_SOURCE" "$last" "$TIMEOUT" "$SOURCES" > "$HD/stop.json.tmp" &&
    mv "$HD/stop.json.tmp" "$HD/stop.json"
  echo "$(now_iso) stopping: $2 (last activity: $NEWEST_SOURCE)" >> "$HD/logs/shutdown.log"
  set -- "$1"
  {stop}
  {after}
}}

load_settings
while sleep "$INTERVAL"; do
  load_settings
  [ -z "$SOURCES" ] && [ -z "$MAX_AGE" ] && continue
  # Someone holds the host lock: an operation is under way.
  if [ -e "$HD/host_lock" ] && ! flock -n "$HD/host_lock" true; then continue; fi
  record_activity
  newest_activity
  now=$(date +%s)
  if [ -n "$MAX_AGE" ] && [ $(( now - $(mtime "$HD/activity/boot") )) -ge "$MAX_AGE" ]; then
    stop_host timeout "up for more than $MAX_AGE s (max_host_age)"
  fi
  [ -z "$SOURCES" ] && continue
  if [ $(( now - NEWEST )) -gt "$TIMEOUT" ]; then
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
    use mngr_plugin_api::host_data::HostData;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command};
    use std::time::{Duration, Instant};

    /// Run `command`; it must succeed (its stderr is the failure message).
    #[track_caller]
    fn run_ok(command: &mut Command) {
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn syntax_ok(script: &str) {
        run_ok(Command::new("sh").args(["-n", "-c", script]));
    }

    #[test]
    fn each_stop_action_renders_its_own_stop_step() {
        let cases = [
            (
                StopAction::SignalInit,
                "case \"$1\" in no_agents) kill -USR2 1 ;; timeout) kill -HUP 1 ;; *) kill -USR1 1 ;; esac",
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
            assert!(
                watcher.contains("DEFAULT_TIMEOUT=300\nDEFAULT_SOURCES='agent'\nPREFIX='mngr-'")
            );
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

    /// A host dir with `activity/` and `logs/` and a fresh boot mark.
    struct HostDir {
        dir: tempfile::TempDir,
        /// Where the stop step writes the reason it got.
        reason: PathBuf,
    }

    impl HostDir {
        fn new() -> HostDir {
            let dir = tempfile::tempdir().unwrap();
            for sub in ["activity", "logs"] {
                std::fs::create_dir(dir.path().join(sub)).unwrap();
            }
            std::fs::write(dir.path().join("activity/boot"), "").unwrap();
            let reason = dir.path().join("reason");
            HostDir { dir, reason }
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        /// `data.json` as mngr writes it, with these idle settings.
        fn write_settings(&self, timeout: u64, sources: &[ActivitySource], max_age: Option<u64>) {
            let mut data = HostData::new("host-1", "box", "mngr-test-none-");
            data.idle_timeout_seconds = timeout;
            data.activity_sources = sources.to_vec();
            data.max_host_age = max_age;
            let tmp = self.path().join("data.json.tmp");
            std::fs::write(&tmp, data.to_json()).unwrap();
            std::fs::rename(tmp, self.path().join("data.json")).unwrap();
        }

        /// Start the watcher. Its stop step records the reason and then kills the watcher,
        /// as the host going down would.
        fn start(&self, timeout: u64, sources: &[ActivitySource]) -> Watcher {
            let stop = StopAction::Command(format!(
                "echo \"$MNGR_STOP_REASON\" > '{}'; kill -9 $$",
                self.reason.display()
            ));
            let script = activity_watcher(timeout, sources, "mngr-test-none-", &stop);
            Watcher(watcher_command(&script, self.path()).spawn().unwrap())
        }

        /// The reason the watcher stopped the host with, once it did (`None` after `within`).
        fn stopped_within(&self, within: Duration) -> Option<String> {
            let start = Instant::now();
            while start.elapsed() < within {
                if let Ok(reason) = std::fs::read_to_string(&self.reason)
                    && !reason.is_empty()
                {
                    return Some(reason.trim().to_string());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            None
        }

        fn stop_record(&self) -> serde_json::Value {
            serde_json::from_slice(&std::fs::read(self.path().join("stop.json")).unwrap()).unwrap()
        }
    }

    /// Kills the watcher and what it started (its own process group) when the test ends.
    struct Watcher(Child);

    impl Drop for Watcher {
        fn drop(&mut self) {
            let group = format!("-{}", self.0.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.0.wait();
        }
    }

    /// `sh -c SCRIPT watcher HOST_DIR` in a process group of its own.
    fn watcher_command(script: &str, hd: &Path) -> Command {
        let mut command = Command::new("sh");
        command
            .args(["-c", script, "watcher"])
            .arg(hd)
            .env("TMUX_TMPDIR", hd)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        command
    }

    /// A host idle past its timeout is stopped with reason `idle`, under the host lock, and
    /// the stop is logged with the activity that last counted.
    #[test]
    fn an_idle_host_is_stopped_with_the_idle_reason_and_what_last_counted() {
        let hd = HostDir::new();
        let _w = hd.start(1, &[ActivitySource::Boot]);
        assert_eq!(
            hd.stopped_within(Duration::from_secs(10)).as_deref(),
            Some("idle")
        );
        let log = std::fs::read_to_string(hd.path().join("logs/shutdown.log")).unwrap();
        assert!(
            log.contains("stopping: idle for more than 1 s (last activity: boot)"),
            "{log}"
        );
        let stop = hd.stop_record();
        assert_eq!(stop["reason"], "idle");
        assert_eq!(stop["last_activity_source"], "boot");
        assert_eq!(stop["idle_timeout_seconds"], 1);
        assert!(stop["last_activity_time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(
            std::fs::read_to_string(hd.path().join("host_lock.generation"))
                .unwrap()
                .trim(),
            "1"
        );
    }

    /// The timeout in data.json counts over the one the script was written with, and a
    /// change to it (as `mngr limit` makes) takes effect on the running watcher.
    #[test]
    fn the_watcher_follows_the_idle_settings_in_data_json() {
        let hd = HostDir::new();
        hd.write_settings(100, &[ActivitySource::Boot], None);
        let _w = hd.start(1, &[ActivitySource::Boot]);
        assert_eq!(hd.stopped_within(Duration::from_secs(4)), None);
        hd.write_settings(1, &[ActivitySource::Boot], None);
        assert_eq!(
            hd.stopped_within(Duration::from_secs(20)).as_deref(),
            Some("idle")
        );
        assert_eq!(hd.stop_record()["idle_timeout_seconds"], 1);
    }

    /// No activity sources (idle mode DISABLED): the host is never stopped.
    #[test]
    fn a_host_without_activity_sources_is_never_stopped() {
        let hd = HostDir::new();
        hd.write_settings(1, &[], None);
        let _w = hd.start(1, &[ActivitySource::Boot]);
        assert_eq!(hd.stopped_within(Duration::from_secs(4)), None);
        assert!(!hd.path().join("stop.json").exists());
    }

    /// `max_host_age` stops the host however active it is, with reason `timeout`.
    #[test]
    fn a_host_past_its_max_age_is_stopped_with_the_timeout_reason() {
        let hd = HostDir::new();
        hd.write_settings(3600, &[ActivitySource::Boot], Some(1));
        let _w = hd.start(3600, &[ActivitySource::Boot]);
        assert_eq!(
            hd.stopped_within(Duration::from_secs(20)).as_deref(),
            Some("timeout")
        );
        assert_eq!(hd.stop_record()["reason"], "timeout");
    }

    /// While another process holds the host lock the watcher leaves the host alone; once it
    /// is released, the idle host is stopped.
    #[test]
    fn the_watcher_skips_while_another_process_holds_the_host_lock() {
        let hd = HostDir::new();
        let lock = hd.path().join("host_lock");
        let mut holder = Command::new("flock")
            .arg(&lock)
            .args(["sleep", "4"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let _w = hd.start(1, &[ActivitySource::Boot]);
        assert_eq!(hd.stopped_within(Duration::from_secs(3)), None);
        holder.wait().unwrap();
        assert_eq!(
            hd.stopped_within(Duration::from_secs(10)).as_deref(),
            Some("idle")
        );
    }

    /// With a stop that takes the machine down (`shutdown -h now`, here a stand-in on PATH
    /// that only records it ran) the watcher keeps the host lock after its stop step, so no
    /// mngr starts an operation on a host that is going down.
    #[test]
    fn the_watcher_keeps_the_host_lock_while_the_host_goes_down() {
        let hd = HostDir::new();
        let bin = hd.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let fake = bin.join("shutdown");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"$*\" > '{}'\n", hd.reason.display()),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let script = activity_watcher(
            1,
            &[ActivitySource::Boot],
            "mngr-test-none-",
            &StopAction::Shutdown,
        );
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let child = watcher_command(&script, hd.path())
            .env("PATH", path)
            .spawn()
            .unwrap();
        let _w = Watcher(child);
        assert_eq!(
            hd.stopped_within(Duration::from_secs(10)).as_deref(),
            Some("-h now")
        );
        std::thread::sleep(Duration::from_millis(300));
        let free = Command::new("flock")
            .args(["-n"])
            .arg(hd.path().join("host_lock"))
            .arg("true")
            .status()
            .unwrap();
        assert!(
            !free.success(),
            "the host lock is free while the host goes down"
        );
        assert_eq!(hd.stop_record()["reason"], "idle");
    }

    /// Output in an agent's tmux window counts as that agent's `agent` activity: the
    /// watcher sets `agents/ID/activity/agent` to the window's last output time.
    #[test]
    fn agent_output_in_tmux_is_recorded_as_agent_activity() {
        let hd = HostDir::new();
        let agent = hd.path().join("agents/agent-1/activity");
        std::fs::create_dir_all(&agent).unwrap();
        let tmux = |args: &[&str]| {
            run_ok(
                Command::new("tmux")
                    .args(args)
                    .env("TMUX_TMPDIR", hd.path())
                    .env_remove("TMUX"),
            )
        };
        tmux(&[
            "new-session",
            "-d",
            "-s",
            "mngr-test-none-a",
            "while sleep 1; do echo tick; done",
            ";",
            "set-option",
            "-t",
            "mngr-test-none-a",
            "@mngr_agent_id",
            "agent-1",
        ]);
        hd.write_settings(3600, &[ActivitySource::Agent], None);
        let _w = hd.start(3600, &[ActivitySource::Agent]);
        let file = agent.join("agent");
        let start = Instant::now();
        while !file.exists() && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
        tmux(&["kill-server"]);
        let modified = std::fs::metadata(&file)
            .expect("agent activity recorded")
            .modified();
        let age = modified.unwrap().elapsed().unwrap_or_default();
        assert!(age < Duration::from_secs(60), "{age:?}");
    }
}
