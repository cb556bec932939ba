//! `<host_dir>/data.json`, the certified host record: one file format whoever writes it (the
//! host's agent layer, or a provider provisioning a new host) and whichever mngr version
//! reads it. Unknown keys written by other versions are kept on rewrite.

use crate::time;
use crate::types::{ActivitySource, StopReason};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A snapshot of the host's filesystem, as the host record lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostSnapshot {
    /// The provider's snapshot id ([`crate::SnapshotInfo::id`]).
    pub id: String,
    /// The snapshot's name.
    #[serde(default)]
    pub name: String,
    /// ISO-8601 UTC.
    #[serde(default)]
    pub created_at: String,
    /// Keys other mngr versions wrote that this one does not know, kept on rewrite.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl HostSnapshot {
    /// The entry for snapshot `id`.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        created_at: impl Into<String>,
    ) -> Self {
        HostSnapshot {
            id: id.into(),
            name: name.into(),
            created_at: created_at.into(),
            extra: Map::new(),
        }
    }
}

fn now() -> String {
    let (secs, micros) = time::now_unix();
    time::iso8601_utc_micros_offset(secs, micros)
}

/// A branch mngr made in a repository (see [`HostData::generated_branches`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GeneratedBranch {
    /// The repository's root directory.
    pub repo: String,
    /// The branch name (`mngr/NAME`).
    pub branch: String,
}

/// `<host_dir>/data.json`, the certified host record. Start from [`HostData::new`] or
/// [`HostData::parse`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostData {
    /// The activity watcher stops the host after this many seconds without activity.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_seconds: u64,
    /// The kinds of activity that keep the host up; empty never stops it.
    #[serde(default = "default_activity_sources")]
    pub activity_sources: Vec<ActivitySource>,
    /// When the record was first written (ISO-8601 UTC).
    pub created_at: String,
    /// When the record was last written; [`HostData::to_json`] sets it.
    pub updated_at: String,
    /// The activity watcher stops the host this many seconds after boot, active or not.
    #[serde(default)]
    pub max_host_age: Option<u64>,
    /// Data plugins keep about the host, one object per plugin name.
    #[serde(default)]
    pub plugin: Map<String, Value>,
    /// The image the host was made from.
    #[serde(default)]
    pub image: Option<String>,
    /// Work dirs mngr made on this host (worktrees, copies), sorted. gc removes the ones no
    /// agent uses.
    #[serde(default)]
    pub generated_work_dirs: Vec<String>,
    /// Source copies mngr made on this host for agents.
    #[serde(default)]
    pub generated_source_dirs: Vec<String>,
    /// Branches mngr made for worktree agents in repositories on this machine, recorded before
    /// they are made, sorted. gc deletes the ones no agent uses that hold no commit of their own.
    #[serde(default)]
    pub generated_branches: Vec<GeneratedBranch>,
    /// The host's id ([`crate::HostId`] as text).
    pub host_id: String,
    /// The host's name.
    pub host_name: String,
    /// The host's user tags.
    #[serde(default)]
    pub user_tags: BTreeMap<String, String>,
    /// The host's snapshots, as the provider last listed them.
    #[serde(default)]
    pub snapshots: Vec<HostSnapshot>,
    /// The prefix of the host's agents' tmux sessions; the activity watcher counts them.
    #[serde(default)]
    pub tmux_session_prefix: Option<String>,
    /// Why the host last stopped, as in [`crate::HostRecord::stop_reason`].
    #[serde(default)]
    pub stop_reason: Option<StopReason>,
    /// Why the host failed to build or start.
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// The output of a failed build, for the user to read.
    #[serde(default)]
    pub build_log: Option<String>,
    /// Keys other mngr versions wrote that this one does not know, kept on rewrite.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn default_idle_timeout() -> u64 {
    3600
}

fn default_activity_sources() -> Vec<ActivitySource> {
    ["USER", "AGENT", "SSH", "CREATE", "START", "BOOT"]
        .iter()
        .map(|s| ActivitySource::from(s.to_string()))
        .collect()
}

impl HostData {
    /// The record of a new host, with the default idle settings and both times now. A
    /// provider writes it to `<host_dir>/data.json` when it provisions the host.
    pub fn new(host_id: &str, host_name: &str, prefix: &str) -> HostData {
        let now = now();
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
            generated_branches: Vec::new(),
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
        self.updated_at = now();
        self.generated_work_dirs.sort();
        self.generated_work_dirs.dedup();
        self.generated_branches.sort();
        self.generated_branches.dedup();
        let mut value = serde_json::to_value(&*self).expect("serializes");
        value["idle_mode"] = Value::String(idle_mode(&self.activity_sources).to_string());
        let mut bytes = serde_json::to_vec_pretty(&value).expect("serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Read a `data.json`; the error is serde's description of what is malformed.
    pub fn parse(bytes: &[u8]) -> Result<HostData, String> {
        let mut data: HostData = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        data.extra.remove("idle_mode");
        Ok(data)
    }
}

/// The idle mode named by a set of activity sources.
pub fn idle_mode(sources: &[ActivitySource]) -> &'static str {
    let mut set: Vec<&str> = sources.iter().map(ActivitySource::as_str).collect();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_data_writes_the_derived_idle_mode_and_drops_it_on_read() {
        let mut data = HostData::new(crate::HostId::generate().as_ref(), "h", "mngr-");
        let bytes = data.to_json();
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["idle_mode"], "IO");
        let back = HostData::parse(&bytes).unwrap();
        assert!(back.extra.is_empty());
    }

    #[test]
    fn snapshots_keep_keys_this_version_does_not_know() {
        let json = r#"{"host_id":"h","host_name":"n","created_at":"c","updated_at":"u",
            "snapshots":[{"id":"s1","name":"first","created_at":"t","size":3}]}"#;
        let data = HostData::parse(json.as_bytes()).unwrap();
        assert_eq!(data.snapshots[0].name, "first");
        assert_eq!(data.snapshots[0].extra["size"], 3);
    }

    #[test]
    fn a_stop_reason_this_version_does_not_know_survives_a_rewrite() {
        let json = r#"{"host_id":"h","host_name":"n","created_at":"c","updated_at":"u",
            "stop_reason":"HIBERNATED"}"#;
        let mut data = HostData::parse(json.as_bytes()).unwrap();
        let value: Value = serde_json::from_slice(&data.to_json()).unwrap();
        assert_eq!(value["stop_reason"], "HIBERNATED");
        let paused = r#"{"host_id":"h","host_name":"n","created_at":"c","updated_at":"u",
            "stop_reason":"PAUSED"}"#;
        let data = HostData::parse(paused.as_bytes()).unwrap();
        assert_eq!(data.stop_reason, Some(StopReason::Paused));
    }
}
