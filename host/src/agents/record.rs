//! The records mngr keeps on a host: the host's `data.json` and each agent's `data.json`, with
//! the field names and shapes every mngr version reads. Unknown keys written by other versions
//! are kept on rewrite, and so are known keys whose value this version cannot read: only `id`,
//! `name` and `work_dir` must be readable for a record to count (see [`AgentRecord::parse`]).

pub use mngr_plugin_api::host_data::{HostData, idle_mode};
use mngr_plugin_api::{AgentId, PersistedAgentRecord, SafeName, time};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `<host_dir>/agents/<id>/data.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRecord {
    pub id: AgentId,
    pub name: String,
    #[serde(rename = "type", default)]
    pub agent_type: String,
    pub work_dir: String,
    /// ISO-8601 UTC.
    #[serde(default)]
    pub create_time: String,
    #[serde(default)]
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
    /// Known keys whose value this version cannot read (another mngr version wrote another
    /// type): the field holds its default meanwhile, and the value is written back as it was
    /// unless the field was changed.
    #[serde(skip)]
    pub unread: BTreeMap<String, UnreadValue>,
}

/// A value of a known key that this version cannot read (see [`AgentRecord::unread`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UnreadValue {
    /// As written.
    pub raw: Value,
    /// How the field's default serializes: while the field still holds it, `raw` is written.
    pub fallback: Value,
}

/// The keys without which mngr cannot name or manage an agent: the rest fall back.
const REQUIRED: [&str; 3] = ["id", "name", "work_dir"];

/// Why an agent record cannot be read, with the agent's name as far as it can be read.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub reason: String,
    pub name: Option<String>,
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
    /// Parse a record. It must be a JSON object with a valid `id`, `name` and `work_dir`; any
    /// other key whose value does not have the shape this version expects falls back to its
    /// default and is kept as written (see [`AgentRecord::unread`]).
    pub fn parse(bytes: &[u8]) -> Result<AgentRecord, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        AgentRecord::from_value(value)
    }

    /// [`AgentRecord::parse`] for a record already read as JSON (a provider's copy).
    pub fn from_value(value: Value) -> Result<AgentRecord, String> {
        let Value::Object(mut fields) = value else {
            return Err("it is not a JSON object".to_string());
        };
        let mut core = Map::new();
        for key in REQUIRED {
            match fields.get(key) {
                Some(v @ Value::String(_)) => {
                    core.insert(key.to_string(), v.clone());
                }
                Some(_) => return Err(format!("its '{key}' is not a string")),
                None => return Err(format!("it has no '{key}'")),
            }
        }
        let record = |fields: &Map<String, Value>| {
            serde_json::from_value::<AgentRecord>(Value::Object(fields.clone()))
        };
        record(&core).map_err(|e| e.to_string())?;
        SafeName::parse(core["name"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
        let mut unread = Map::new();
        if record(&fields).is_err() {
            // Find the keys this version cannot read, one at a time beside the required ones.
            let optional: Vec<String> = fields
                .keys()
                .filter(|k| !REQUIRED.contains(&k.as_str()))
                .cloned()
                .collect();
            for key in optional {
                let mut alone = core.clone();
                alone.insert(key.clone(), fields[&key].clone());
                if record(&alone).is_err() {
                    unread.insert(key.clone(), fields.remove(&key).expect("present"));
                }
            }
        }
        let mut parsed = record(&fields).map_err(|e| e.to_string())?;
        if !unread.is_empty() {
            let defaults = serde_json::to_value(&parsed).expect("record serializes");
            for (key, raw) in unread {
                let fallback = defaults.get(&key).cloned().unwrap_or(Value::Null);
                parsed.unread.insert(key, UnreadValue { raw, fallback });
            }
        }
        Ok(parsed)
    }

    /// Read the record of agent dir `dir`: [`AgentRecord::parse`], and its id must be the
    /// dir's. When it cannot be read, the reason and the name as far as it can be read.
    pub fn read(dir: &str, bytes: &[u8]) -> Result<AgentRecord, Unreadable> {
        let unreadable = |reason: String| Unreadable {
            reason,
            name: name_in(bytes),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(unreadable("it is empty".to_string()));
        }
        let record = AgentRecord::parse(bytes).map_err(unreadable)?;
        if record.id.as_str() != dir {
            return Err(unreadable(format!(
                "its id '{}' is not its directory's name",
                record.id
            )));
        }
        Ok(record)
    }

    /// The record as JSON, with the values this version could not read written back as they
    /// were (where the field was not changed).
    pub fn to_value(&self) -> Value {
        let mut value = serde_json::to_value(self).expect("record serializes");
        if let Value::Object(fields) = &mut value {
            for (key, unread) in &self.unread {
                if fields.get(key) == Some(&unread.fallback) {
                    fields.insert(key.clone(), unread.raw.clone());
                }
            }
        }
        value
    }

    /// The record as the provider keeps it for offline views (the same JSON as [`Self::to_value`]).
    pub fn to_persisted(&self) -> PersistedAgentRecord {
        PersistedAgentRecord::try_from(self.to_value()).expect("a record serializes to an object")
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(&self.to_value()).expect("record serializes");
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

/// The agent's name in a record that cannot be parsed (cut short, say): the first
/// `"name": "..."` whose value is a valid name.
fn name_in(bytes: &[u8]) -> Option<String> {
    if let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(bytes) {
        return fields
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| SafeName::parse(n).is_ok())
            .map(str::to_string);
    }
    let text = String::from_utf8_lossy(bytes);
    text.match_indices("\"name\"").find_map(|(at, key)| {
        let rest = text[at + key.len()..].trim_start().strip_prefix(':')?;
        let rest = rest.trim_start().strip_prefix('"')?;
        let name = &rest[..rest.find('"')?];
        SafeName::parse(name).is_ok().then(|| name.to_string())
    })
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
    fn values_of_another_type_fall_back_and_are_written_back_as_they_were() {
        let id = AgentId::generate();
        // A newer mngr made `labels` a list and `tmux.width` a string, and added a key.
        let json = format!(
            r#"{{"id":"{id}","name":"a1","type":"command","work_dir":"/w","create_time":"x","command":"sleep 1","labels":["a","b"],"tmux":{{"width":"wide","height":50}},"start_on_boot":"yes","next":{{"k":1}}}}"#
        );
        let record = AgentRecord::parse(json.as_bytes()).unwrap();
        assert_eq!(
            (record.name.as_str(), record.work_dir.as_str()),
            ("a1", "/w")
        );
        assert!(record.labels.is_empty() && !record.start_on_boot);
        assert_eq!(record.tmux, TmuxOptions::default());
        let written: Value = serde_json::from_slice(&record.to_json()).unwrap();
        assert_eq!(written["labels"], serde_json::json!(["a", "b"]));
        assert_eq!(written["tmux"]["width"], "wide");
        assert_eq!(written["start_on_boot"], "yes");
        assert_eq!(written["next"]["k"], 1);
        // A field this version changes is written as changed.
        let mut changed = record.clone();
        changed.labels.insert("k".into(), "v".into());
        let written: Value = serde_json::from_slice(&changed.to_json()).unwrap();
        assert_eq!(written["labels"], serde_json::json!({"k": "v"}));
        assert_eq!(written["start_on_boot"], "yes");
    }

    #[test]
    fn a_record_without_a_readable_id_name_or_work_dir_is_unreadable_with_a_reason() {
        let id = AgentId::generate();
        let good = format!(r#"{{"id":"{id}","name":"a1","work_dir":"/w"}}"#);
        assert!(AgentRecord::read(id.as_str(), good.as_bytes()).is_ok());
        let cut = &good.as_bytes()[..good.len() - 5];
        let err = AgentRecord::read(id.as_str(), cut).unwrap_err();
        assert!(err.reason.contains("EOF"), "{}", err.reason);
        assert_eq!(err.name.as_deref(), Some("a1"));
        let odd = good.replace(r#""/w""#, r#"{"path":"/w"}"#);
        let err = AgentRecord::read(id.as_str(), odd.as_bytes()).unwrap_err();
        assert_eq!(err.reason, "its 'work_dir' is not a string");
        assert_eq!(err.name.as_deref(), Some("a1"));
        let other = AgentId::generate();
        let err = AgentRecord::read(other.as_str(), good.as_bytes()).unwrap_err();
        assert!(
            err.reason.contains("is not its directory's name"),
            "{}",
            err.reason
        );
    }
}
