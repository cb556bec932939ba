//! The records mngr keeps on a host: the host's `data.json` and each agent's `data.json`, with
//! the field names and shapes every mngr version reads. Unknown keys written by other versions
//! are kept on rewrite.

use mngr_plugin_api::{AgentId, SafeName, time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `<host_dir>/agents/<id>/data.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: AgentId,
    pub name: String,
    #[serde(rename = "type")]
    pub agent_type: String,
    pub work_dir: String,
    /// ISO-8601 UTC.
    pub create_time: String,
    pub command: String,
    #[serde(default)]
    pub additional_commands: Vec<Value>,
    #[serde(default)]
    pub initial_message: Option<String>,
    #[serde(default)]
    pub resume_message: Option<String>,
    #[serde(default = "default_ready_timeout")]
    pub ready_timeout_seconds: f64,
    #[serde(default)]
    pub start_on_boot: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub created_branch_name: Option<String>,
    #[serde(default)]
    pub tmux: TmuxOptions,
    /// Per-plugin data. This implementation keeps how the work dir was made under
    /// `plugin.work_dir` (see [`WorkDirInfo`]).
    #[serde(default)]
    pub plugin: Map<String, Value>,
    /// Keys written by other mngr versions, preserved.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_ready_timeout() -> f64 {
    10.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TmuxOptions {
    pub width: u32,
    pub height: u32,
    #[serde(default)]
    pub window_size: Option<String>,
}

impl Default for TmuxOptions {
    fn default() -> Self {
        TmuxOptions {
            width: 200,
            height: 50,
            window_size: None,
        }
    }
}

/// How an agent's work dir was made; kept in `plugin.work_dir` of the agent record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkDirInfo {
    /// `in_place`, `worktree` or `copy`.
    pub mode: String,
    /// The source directory on the machine that ran `mngr create`.
    #[serde(default)]
    pub source: Option<String>,
    /// The git commit the work dir started from (git sources only).
    #[serde(default)]
    pub base_commit: Option<String>,
}

impl AgentRecord {
    /// Parse a record, refusing ones whose id or name is invalid.
    pub fn parse(bytes: &[u8]) -> Result<AgentRecord, String> {
        let record: AgentRecord = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        SafeName::parse(&record.name).map_err(|e| e.to_string())?;
        Ok(record)
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("record serializes");
        bytes.push(b'\n');
        bytes
    }

    pub fn work_dir_info(&self) -> WorkDirInfo {
        self.plugin
            .get("work_dir")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    pub fn set_work_dir_info(&mut self, info: &WorkDirInfo) {
        self.plugin.insert(
            "work_dir".to_string(),
            serde_json::to_value(info).expect("serializes"),
        );
    }
}

/// `<host_dir>/data.json`, the certified host record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostData {
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    #[serde(default = "default_activity_sources")]
    pub activity_sources: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub max_host_age: Option<u64>,
    #[serde(default)]
    pub plugin: Map<String, Value>,
    #[serde(default)]
    pub image: Option<String>,
    /// Work dirs mngr made on this host (worktrees, copies), sorted. gc removes the ones no
    /// agent uses.
    #[serde(default)]
    pub generated_work_dirs: Vec<String>,
    #[serde(default)]
    pub generated_source_dirs: Vec<String>,
    pub host_id: String,
    pub host_name: String,
    #[serde(default)]
    pub user_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub snapshots: Vec<Value>,
    #[serde(default)]
    pub tmux_session_prefix: Option<String>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub build_log: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_idle_timeout() -> u64 {
    3600
}

fn default_activity_sources() -> Vec<String> {
    ["USER", "AGENT", "SSH", "CREATE", "START", "BOOT"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

impl HostData {
    pub fn new(host_id: &str, host_name: &str, prefix: &str) -> HostData {
        let now = now_iso();
        HostData {
            idle_timeout_seconds: default_idle_timeout(),
            activity_sources: default_activity_sources(),
            created_at: now.clone(),
            updated_at: now,
            max_host_age: None,
            plugin: Map::new(),
            image: None,
            generated_work_dirs: Vec::new(),
            generated_source_dirs: Vec::new(),
            host_id: host_id.to_string(),
            host_name: host_name.to_string(),
            user_tags: BTreeMap::new(),
            snapshots: Vec::new(),
            tmux_session_prefix: Some(prefix.to_string()),
            stop_reason: None,
            failure_reason: None,
            build_log: None,
            extra: Map::new(),
        }
    }

    /// Serialize with a fresh `updated_at` and the derived `idle_mode`.
    pub fn to_json(&mut self) -> Vec<u8> {
        self.updated_at = now_iso();
        self.generated_work_dirs.sort();
        self.generated_work_dirs.dedup();
        let mut value = serde_json::to_value(&*self).expect("serializes");
        value["idle_mode"] = Value::String(idle_mode(&self.activity_sources).to_string());
        let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
        bytes.push(b'\n');
        bytes
    }

    pub fn parse(bytes: &[u8]) -> Result<HostData, String> {
        let mut data: HostData = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        data.extra.remove("idle_mode");
        Ok(data)
    }
}

/// The idle mode named by a set of activity sources.
pub fn idle_mode(sources: &[String]) -> &'static str {
    let mut set: Vec<&str> = sources.iter().map(String::as_str).collect();
    set.sort();
    set.dedup();
    let is = |names: &[&str]| {
        let mut want = names.to_vec();
        want.sort();
        want == set
    };
    if is(&["USER", "AGENT", "SSH", "CREATE", "START", "BOOT"]) {
        "IO"
    } else if is(&["USER", "SSH", "CREATE", "START", "BOOT"]) {
        "USER"
    } else if is(&["AGENT", "SSH", "CREATE", "START", "BOOT"]) {
        "AGENT"
    } else if is(&["SSH", "CREATE", "START", "BOOT"]) {
        "SSH"
    } else if is(&["CREATE"]) {
        "CREATE"
    } else if is(&["BOOT"]) {
        "BOOT"
    } else if is(&["START", "BOOT"]) {
        "START"
    } else if is(&["CREATE", "START", "BOOT", "PROCESS"]) {
        "RUN"
    } else if set.is_empty() {
        "DISABLED"
    } else {
        "CUSTOM"
    }
}

/// Now as ISO-8601 UTC with microseconds (`2026-01-02T03:04:05.123456+00:00`).
pub fn now_iso() -> String {
    let (secs, micros) = time::now_unix();
    iso_from_unix(secs, micros)
}

/// Format seconds since the epoch as ISO-8601 UTC, in the form every mngr version's records use.
pub fn iso_from_unix(secs: i64, micros: u32) -> String {
    time::iso8601_utc_micros_offset(secs, micros)
}

/// Seconds since the epoch of an ISO-8601 UTC timestamp.
pub fn unix_from_iso(s: &str) -> Option<i64> {
    time::unix_from_iso8601(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip() {
        assert_eq!(iso_from_unix(0, 0), "1970-01-01T00:00:00.000000+00:00");
        let t = 1_767_323_045;
        let iso = iso_from_unix(t, 5);
        assert_eq!(iso, "2026-01-02T03:04:05.000005+00:00");
        assert_eq!(unix_from_iso(&iso), Some(t));
    }

    #[test]
    fn agent_records_keep_unknown_keys_and_reject_bad_names() {
        let id = AgentId::generate();
        let json = format!(
            r#"{{"id":"{id}","name":"a1","type":"command","work_dir":"/w","create_time":"x","command":"sleep 1","future_key":7}}"#
        );
        let record = AgentRecord::parse(json.as_bytes()).unwrap();
        assert_eq!(record.extra["future_key"], 7);
        let again = AgentRecord::parse(&record.to_json()).unwrap();
        assert_eq!(again, record);
        let bad = json.replace("\"a1\"", "\"bad name\"");
        assert!(AgentRecord::parse(bad.as_bytes()).is_err());
    }

    #[test]
    fn host_data_writes_the_derived_idle_mode_and_drops_it_on_read() {
        let mut data = HostData::new(mngr_plugin_api::HostId::generate().as_ref(), "h", "mngr-");
        let bytes = data.to_json();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["idle_mode"], "IO");
        let back = HostData::parse(&bytes).unwrap();
        assert!(back.extra.is_empty());
    }
}
