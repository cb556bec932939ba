//! The records mngr keeps on a host: the host's `data.json` and each agent's `data.json`, with
//! the field names and shapes every mngr version reads. Unknown keys written by other versions
//! are kept on rewrite.

pub use mngr_plugin_api::host_data::{HostData, idle_mode};
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
}
