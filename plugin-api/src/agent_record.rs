//! An agent's record as a provider keeps it for offline views: the agent's `data.json` object,
//! which the host owns and may extend in any release. A provider stores it whole and gives it
//! back unchanged; it reads only the few keys it needs, through the accessors here.

use crate::error::{ProviderError, ProviderResult};
use crate::ids::AgentId;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An agent's `data.json` object, as [`crate::ProviderInstance::persist_agent_record`] hands
/// it over and [`crate::ProviderInstance::persisted_agent_records`] returns it. Every key is
/// kept, the ones this version does not know included; on the wire it is that JSON object.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersistedAgentRecord(Map<String, Value>);

impl PersistedAgentRecord {
    /// The record made of these keys.
    pub fn new(fields: Map<String, Value>) -> Self {
        PersistedAgentRecord(fields)
    }

    /// The agent's id as written (`agent-...`), if the record has one as text.
    pub fn id(&self) -> Option<&str> {
        self.text("id")
    }

    /// The agent's id, checked; an `InvalidInput` error when it is missing or not an agent id.
    /// A provider that names files or keys after the id uses this one.
    pub fn agent_id(&self) -> ProviderResult<AgentId> {
        let raw = self
            .id()
            .ok_or_else(|| ProviderError::invalid_input("agent record has no valid 'id'"))?;
        AgentId::parse(raw).map_err(|e| {
            ProviderError::invalid_input(format!("agent record has no valid 'id' ({raw}): {e}"))
        })
    }

    /// The agent's name, if the record has one as text.
    pub fn name(&self) -> Option<&str> {
        self.text("name")
    }

    /// Every key of the record.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The record's keys, to store or to hand back.
    pub fn into_fields(self) -> Map<String, Value> {
        self.0
    }

    fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }
}

impl From<Map<String, Value>> for PersistedAgentRecord {
    fn from(fields: Map<String, Value>) -> Self {
        PersistedAgentRecord(fields)
    }
}

impl From<PersistedAgentRecord> for Value {
    fn from(record: PersistedAgentRecord) -> Self {
        Value::Object(record.0)
    }
}

impl TryFrom<Value> for PersistedAgentRecord {
    type Error = ProviderError;

    /// A record from a JSON value, which must be an object.
    fn try_from(value: Value) -> ProviderResult<Self> {
        match value {
            Value::Object(fields) => Ok(PersistedAgentRecord(fields)),
            other => Err(ProviderError::invalid_input(format!(
                "an agent record must be a JSON object, not {other}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_its_json_object_on_the_wire_with_unknown_keys_kept() {
        let id = AgentId::generate();
        let json = serde_json::json!({"id": id.as_str(), "name": "a1", "from_a_newer_mngr": [1]});
        let record: PersistedAgentRecord = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(record.id(), Some(id.as_str()));
        assert_eq!(record.agent_id().unwrap(), id);
        assert_eq!(record.name(), Some("a1"));
        assert_eq!(serde_json::to_value(&record).unwrap(), json);
        assert_eq!(Value::from(record), json);
    }

    #[test]
    fn a_record_without_a_valid_id_is_invalid_input() {
        let none = PersistedAgentRecord::default();
        assert_eq!(none.id(), None);
        let err = none.agent_id().unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::InvalidInput);
        let bad = PersistedAgentRecord::try_from(serde_json::json!({"id": "../x"})).unwrap();
        assert!(bad.agent_id().unwrap_err().message.contains("../x"));
        assert!(PersistedAgentRecord::try_from(serde_json::json!([1])).is_err());
        assert!(serde_json::from_str::<PersistedAgentRecord>("[1]").is_err());
    }
}
