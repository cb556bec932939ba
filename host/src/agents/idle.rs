//! Idle detection as mngr explains it: the idle modes and the activity sources they stand for,
//! and what a host's activity files, idle settings and last stop say (which activity last
//! counted, how long the host has been idle, why it stopped). The watcher on the host
//! (`plugins/kit/src/watcher.rs`) acts on the same files; this module only reads them.

use super::record::{HostData, idle_mode};
use crate::error::{MngrError, Result};
use mngr_plugin_api::{ActivitySource, HostRecord, HostState, StopReason};
use serde_json::{Value, json};

/// Every activity source, as the flags spell them.
const SOURCES: &[&str] = &["user", "agent", "ssh", "create", "start", "boot", "process"];

/// The idle modes and the sources each one watches (as in the reference).
const MODES: &[(&str, &[&str])] = &[
    ("io", &["user", "agent", "ssh", "create", "start", "boot"]),
    ("user", &["user", "ssh", "create", "start", "boot"]),
    ("agent", &["agent", "ssh", "create", "start", "boot"]),
    ("ssh", &["ssh", "create", "start", "boot"]),
    ("create", &["create"]),
    ("boot", &["boot"]),
    ("start", &["start", "boot"]),
    ("run", &["create", "start", "boot", "process"]),
    ("disabled", &[]),
];

fn source(name: &str) -> ActivitySource {
    ActivitySource::from(name.to_ascii_uppercase())
}

/// The activity sources of idle mode `mode` (any case).
pub fn sources_of_mode(mode: &str) -> Result<Vec<ActivitySource>> {
    let wanted = mode.trim().to_ascii_lowercase();
    MODES
        .iter()
        .find(|(name, _)| *name == wanted)
        .map(|(_, sources)| sources.iter().map(|s| source(s)).collect())
        .ok_or_else(|| {
            let names: Vec<&str> = MODES.iter().map(|(n, _)| *n).collect();
            MngrError::usage(format!(
                "unknown idle mode '{mode}'; idle modes: {}",
                names.join(", ")
            ))
        })
}

/// One activity source named on the command line (any case).
pub fn parse_source(name: &str) -> Result<ActivitySource> {
    let wanted = name.trim().to_ascii_lowercase();
    if SOURCES.contains(&wanted.as_str()) {
        Ok(source(&wanted))
    } else {
        Err(MngrError::usage(format!(
            "unknown activity source '{name}'; sources: {}",
            SOURCES.join(", ")
        )))
    }
}

/// A comma-separated list of activity sources (`user,agent`); an empty list watches nothing.
pub fn parse_sources(list: &str) -> Result<Vec<ActivitySource>> {
    let mut out: Vec<ActivitySource> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let s = parse_source(name)?;
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// One activity file of a host: its source, the agent it belongs to (agent-level sources),
/// and its mtime (unix seconds; the mtime is what counts).
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// Lowercase, as the file is named.
    pub source: String,
    pub agent_id: Option<String>,
    pub time: i64,
}

/// What one probe of a running host read about its idleness.
#[derive(Debug, Clone, Default)]
pub struct IdleFacts {
    /// The host's clock when probed (so a skewed local clock does not skew idle seconds).
    pub host_now: i64,
    pub activity: Vec<Activity>,
    /// The host's `data.json`, when it has a readable one.
    pub settings: Option<HostData>,
    /// `stop.json`: why the host last stopped, as its watcher or `mngr stop` wrote it.
    pub last_stop: Option<Value>,
}

const NOW: &str = "@@MNGR-IDLE-NOW ";
const FILE: &str = "@@MNGR-IDLE-FILE ";
const DATA: &str = "@@MNGR-IDLE-DATA ";
const STOP: &str = "@@MNGR-IDLE-STOP ";

/// The probe lines that print the host's clock, its activity mtimes, its `data.json` and its
/// `stop.json` (each JSON on one line). `$H` is the host dir.
pub fn probe_section() -> String {
    format!(
        "printf '{NOW}%s\\n' \"$(date +%s)\"\n\
         set -- \"$H\"/activity/* \"$H\"/agents/*/activity/*\n\
         for f do shift; [ -e \"$f\" ] && set -- \"$@\" \"$f\"; done\n\
         [ $# -gt 0 ] && stat -c '{FILE}%Y %n' \"$@\" 2>/dev/null\n\
         [ -r \"$H/data.json\" ] && printf '{DATA}%s\\n' \"$(tr -d '\\n' < \"$H/data.json\")\"\n\
         [ -r \"$H/stop.json\" ] && printf '{STOP}%s\\n' \"$(tr -d '\\n' < \"$H/stop.json\")\"\n"
    )
}

/// The activity file at `path` (`.../activity/SRC` or `.../agents/ID/activity/SRC`).
fn activity_of(time: i64, path: &str) -> Option<Activity> {
    let mut parts = path.rsplit('/');
    let source = parts.next()?.to_string();
    if parts.next()? != "activity" {
        return None;
    }
    let owner = parts.next()?.to_string();
    let agent_id = (parts.next() == Some("agents")).then_some(owner);
    Some(Activity {
        source,
        agent_id,
        time,
    })
}

impl IdleFacts {
    /// Read one line of [`probe_section`]'s output; false when it is not one.
    pub fn read_line(&mut self, line: &str) -> bool {
        if let Some(now) = line.strip_prefix(NOW) {
            self.host_now = now.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix(FILE) {
            let (time, path) = rest.split_once(' ').unwrap_or(("", ""));
            if let (Ok(time), Some(a)) = (time.parse(), Some(path)) {
                self.activity.extend(activity_of(time, a));
            }
        } else if let Some(json) = line.strip_prefix(DATA) {
            self.settings = HostData::parse(json.as_bytes()).ok();
        } else if let Some(json) = line.strip_prefix(STOP) {
            self.last_stop = serde_json::from_str(json).ok();
        } else {
            return false;
        }
        true
    }

    /// The sources the host watches (lowercase); the defaults when it has no record.
    fn sources(&self) -> Vec<String> {
        let sources = match &self.settings {
            Some(data) => data.activity_sources.clone(),
            None => HostData::new("", "", "").activity_sources,
        };
        sources
            .iter()
            .map(|s| s.as_str().to_ascii_lowercase())
            .collect()
    }

    /// The newest activity of a watched source: the one that last counted.
    pub fn counted(&self) -> Option<&Activity> {
        let sources = self.sources();
        self.activity
            .iter()
            .filter(|a| sources.contains(&a.source))
            .max_by_key(|a| a.time)
    }

    /// Seconds since the activity that last counted.
    pub fn idle_seconds(&self) -> Option<i64> {
        self.counted().map(|a| (self.host_now - a.time).max(0))
    }

    /// The newest activity of `source`, of `agent` (or of the host).
    fn newest(&self, source: &str, agent: Option<&str>) -> Option<i64> {
        self.activity
            .iter()
            .filter(|a| a.source == source && (agent.is_none() || a.agent_id.as_deref() == agent))
            .map(|a| a.time)
            .max()
    }

    /// The fields a host row shows about idleness.
    pub fn host_fields(&self) -> serde_json::Map<String, Value> {
        let data = self
            .settings
            .clone()
            .unwrap_or_else(|| HostData::new("", "", ""));
        let counted = self.counted();
        let mut out = serde_json::Map::new();
        out.insert("idle_mode".into(), idle_mode(&data.activity_sources).into());
        out.insert(
            "idle_timeout_seconds".into(),
            data.idle_timeout_seconds.into(),
        );
        out.insert("activity_sources".into(), json!(self.sources()));
        out.insert("max_host_age".into(), json!(data.max_host_age));
        out.insert("idle_seconds".into(), json!(self.idle_seconds()));
        out.insert(
            "last_activity_source".into(),
            json!(counted.map(|a| a.source.clone())),
        );
        out.insert(
            "last_activity_time".into(),
            json!(counted.map(|a| iso(a.time))),
        );
        out.insert(
            "ssh_activity_time".into(),
            json!(self.newest("ssh", None).map(iso)),
        );
        out.insert(
            "boot_time".into(),
            json!(self.newest("boot", None).map(iso)),
        );
        out.insert(
            "last_stop".into(),
            self.last_stop.clone().unwrap_or(Value::Null),
        );
        out
    }

    /// The activity fields an agent row shows (`user_activity_time` is the host's: input
    /// reaches the host, whichever agent it was for).
    pub fn agent_fields(&self, agent_id: &str) -> serde_json::Map<String, Value> {
        let mut out = serde_json::Map::new();
        out.insert(
            "user_activity_time".into(),
            json!(self.newest("user", None).map(iso)),
        );
        out.insert(
            "agent_activity_time".into(),
            json!(self.newest("agent", Some(agent_id)).map(iso)),
        );
        for key in [
            "idle_seconds",
            "idle_mode",
            "idle_timeout_seconds",
            "activity_sources",
        ] {
            out.insert(key.into(), self.host_fields()[key].clone());
        }
        out
    }

    /// One line for `-v`: which activity last counted, and how close the host is to stopping.
    pub fn summary(&self, host: &str) -> String {
        let data = self
            .settings
            .clone()
            .unwrap_or_else(|| HostData::new("", "", ""));
        let mode = idle_mode(&data.activity_sources);
        match self.counted() {
            _ if data.activity_sources.is_empty() => {
                format!("host '{host}': idle mode {mode}, never stopped for idleness")
            }
            None => format!(
                "host '{host}': idle mode {mode}: no watched activity recorded yet (timeout {} s)",
                data.idle_timeout_seconds
            ),
            Some(a) => {
                let whose = a
                    .agent_id
                    .as_deref()
                    .map(|id| format!(" of agent {id}"))
                    .unwrap_or_default();
                format!(
                    "host '{host}': last activity that counted: {}{whose}, {} s ago (idle mode {mode}, stops after {} s idle)",
                    a.source,
                    (self.host_now - a.time).max(0),
                    data.idle_timeout_seconds
                )
            }
        }
    }
}

fn iso(unix: i64) -> String {
    mngr_plugin_api::time::iso8601_utc_micros_offset(unix, 0)
}

/// Why a host that is not running stopped, as far as its provider's record says: `idle`,
/// `user`, `timeout`, `crash`, `no_agents` (a provider's `details.stop_cause` wins), or
/// `None` for a host that runs or whose reason is unknown.
pub fn stopped_because(record: &HostRecord) -> Option<String> {
    if let Some(cause) = record.details.get("stop_cause").and_then(Value::as_str) {
        return Some(cause.to_string());
    }
    match (&record.state, &record.stop_reason) {
        (HostState::Crashed, _) => Some("crash".into()),
        (HostState::Running | HostState::Starting | HostState::Stopping, _) => None,
        (_, Some(StopReason::Paused)) => Some("idle".into()),
        (_, Some(StopReason::Stopped)) => Some("user".into()),
        (_, Some(StopReason::Other(other))) => Some(other.to_ascii_lowercase()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mode_maps_to_the_sources_whose_mode_is_its_name() {
        for (mode, _) in MODES {
            let sources = sources_of_mode(mode).unwrap();
            assert_eq!(idle_mode(&sources), mode.to_ascii_uppercase(), "{mode}");
        }
        assert_eq!(sources_of_mode("IO").unwrap().len(), 6);
        let err = sources_of_mode("sleepy").unwrap_err();
        assert!(
            err.message.contains("unknown idle mode 'sleepy'"),
            "{}",
            err.message
        );
        assert!(err.message.contains("io, user, agent"), "{}", err.message);
    }

    #[test]
    fn source_lists_parse_in_any_case_once_each_and_refuse_unknown_names() {
        let sources = parse_sources("User, agent,USER").unwrap();
        assert_eq!(sources, vec![ActivitySource::User, ActivitySource::Agent]);
        assert!(parse_sources("").unwrap().is_empty());
        let err = parse_sources("user,typing").unwrap_err();
        assert!(
            err.message.contains("unknown activity source 'typing'"),
            "{}",
            err.message
        );
    }

    /// The probe section run with sh against a real host dir, and its output read back: the
    /// newest activity of a watched source counts; unwatched sources do not.
    #[test]
    fn the_probe_section_reads_what_last_counted_from_a_host_dir() {
        let hd = tempfile::tempdir().unwrap();
        let agent = hd.path().join("agents/agent-1/activity");
        std::fs::create_dir_all(&agent).unwrap();
        std::fs::create_dir_all(hd.path().join("activity")).unwrap();
        let touch = |path: &std::path::Path, ago: u64| {
            std::fs::write(path, "").unwrap();
            let t = std::time::SystemTime::now() - std::time::Duration::from_secs(ago);
            std::fs::File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        };
        touch(&hd.path().join("activity/boot"), 500);
        touch(&agent.join("agent"), 100);
        touch(&agent.join("process"), 5);
        let mut data = HostData::new("h", "box", "mngr-");
        data.activity_sources = sources_of_mode("agent").unwrap();
        data.idle_timeout_seconds = 800;
        std::fs::write(hd.path().join("data.json"), data.to_json()).unwrap();
        std::fs::write(hd.path().join("stop.json"), "{\"reason\":\"idle\"}\n").unwrap();
        let script = format!("H='{}'\n{}", hd.path().display(), probe_section());
        let out = std::process::Command::new("sh")
            .args(["-c", &script])
            .output()
            .unwrap();
        let mut facts = IdleFacts::default();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            assert!(facts.read_line(line), "unexpected line {line}");
        }
        let counted = facts.counted().unwrap();
        assert_eq!(counted.source, "agent");
        assert_eq!(counted.agent_id.as_deref(), Some("agent-1"));
        let idle = facts.idle_seconds().unwrap();
        assert!((99..=110).contains(&idle), "{idle}");
        let fields = facts.host_fields();
        assert_eq!(fields["idle_mode"], "AGENT");
        assert_eq!(fields["idle_timeout_seconds"], 800);
        assert_eq!(fields["last_activity_source"], "agent");
        assert_eq!(fields["last_stop"]["reason"], "idle");
        let line = facts.summary("box");
        assert!(
            line.contains("last activity that counted: agent of agent agent-1"),
            "{line}"
        );
        assert!(line.contains("stops after 800 s idle"), "{line}");
    }

    #[test]
    fn a_stopped_host_says_why_from_its_provider_record() {
        let record = |state, reason: Option<StopReason>| {
            let mut r = HostRecord::new(
                mngr_plugin_api::HostId::generate(),
                mngr_plugin_api::HostName::parse("h").unwrap(),
                "docker",
                state,
                "/mngr",
            );
            r.stop_reason = reason;
            r
        };
        let paused = record(HostState::Paused, Some(StopReason::Paused));
        assert_eq!(stopped_because(&paused).as_deref(), Some("idle"));
        let stopped = record(HostState::Stopped, Some(StopReason::Stopped));
        assert_eq!(stopped_because(&stopped).as_deref(), Some("user"));
        assert_eq!(
            stopped_because(&record(HostState::Crashed, None)).as_deref(),
            Some("crash")
        );
        assert_eq!(stopped_because(&record(HostState::Running, None)), None);
        let mut no_agents = record(HostState::Stopped, Some(StopReason::Stopped));
        no_agents
            .details
            .insert("stop_cause".into(), "no_agents".into());
        assert_eq!(stopped_because(&no_agents).as_deref(), Some("no_agents"));
    }
}
