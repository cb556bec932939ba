//! Conversions between the contract's Rust types and their FFI form, used by both sides of
//! the boundary (the export here, the host's loader crate); not for vendors.

use super::abi::{FfiError, FfiResult};
use crate::error::{ErrorKind, ProviderError, ProviderResult};
use abi_stable::std_types::{RResult, RString};
use serde::Serialize;
use serde::de::DeserializeOwned;

impl From<ProviderError> for FfiError {
    fn from(err: ProviderError) -> Self {
        FfiError {
            kind: err.kind.as_str().into(),
            message: err.message.into(),
            retryable: err.retryable,
            details_json: if err.details.is_null() {
                RString::new()
            } else {
                err.details.to_string().into()
            },
            hint: err.hint.map(RString::from).into(),
        }
    }
}

impl From<FfiError> for ProviderError {
    fn from(err: FfiError) -> Self {
        // Unknown kinds (from a newer plugin) become `Other` through serde's `#[serde(other)]`.
        let kind: ErrorKind = serde_json::from_value(serde_json::Value::String(err.kind.into()))
            .unwrap_or(ErrorKind::Other);
        ProviderError {
            kind,
            message: err.message.into(),
            retryable: err.retryable,
            details: if err.details_json.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::from_str(&err.details_json).unwrap_or(serde_json::Value::Null)
            },
            hint: err.hint.into_option().map(String::from),
        }
    }
}

/// Serialize a value for the wire. Contract types always serialize.
pub fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("contract types serialize to JSON")
}

/// Read a value from the wire; a mismatch is an internal error naming what was being read.
pub fn from_json<T: DeserializeOwned>(what: &str, json: &str) -> ProviderResult<T> {
    serde_json::from_str(json).map_err(|e| {
        ProviderError::internal(format!("malformed {what} across the plugin boundary: {e}"))
    })
}

pub fn ffi_ok<T: Serialize>(result: ProviderResult<T>) -> FfiResult {
    match result {
        Ok(value) => RResult::ROk(to_json(&value).into()),
        Err(err) => RResult::RErr(err.into()),
    }
}

pub fn from_ffi<T: DeserializeOwned>(what: &str, result: FfiResult) -> ProviderResult<T> {
    match result {
        RResult::ROk(json) => from_json(what, &json),
        RResult::RErr(err) => Err(err.into()),
    }
}

/// The JSON argument objects of the instance methods, one per parameter list.
pub mod wire {
    use crate::ids::{HostId, HostName};
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize)]
    pub struct Host {
        pub host: HostId,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Lookup {
        pub id_or_name: String,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Discover {
        pub include_destroyed: bool,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Start {
        pub host: HostId,
        pub snapshot: Option<String>,
    }
    #[derive(Serialize, Deserialize)]
    pub struct SnapshotCreate {
        pub host: HostId,
        pub name: Option<String>,
    }
    #[derive(Serialize, Deserialize)]
    pub struct SnapshotDelete {
        pub host: HostId,
        pub snapshot_id: String,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Tags {
        pub host: HostId,
        pub tags: BTreeMap<String, String>,
    }
    #[derive(Serialize, Deserialize)]
    pub struct TagKeys {
        pub host: HostId,
        pub keys: Vec<String>,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Rename {
        pub host: HostId,
        pub new_name: HostName,
    }
    #[derive(Serialize, Deserialize)]
    pub struct Record {
        pub host: HostId,
        pub record: serde_json::Value,
    }
    #[derive(Serialize, Deserialize)]
    pub struct AgentRecord {
        pub host: HostId,
        pub record: crate::PersistedAgentRecord,
    }
    #[derive(Serialize, Deserialize)]
    pub struct AgentRef {
        pub host: HostId,
        pub agent_id: String,
    }
    /// The serializable part of [`crate::InstanceContext`].
    #[derive(Serialize, Deserialize)]
    pub struct Context {
        pub instance_name: String,
        pub state_dir: std::path::PathBuf,
        pub prefix: String,
    }
}
