//! The host record kept on the state volume (`host_state/<host_id>.json`). Its keys follow the
//! shared layout so other mngr versions can read it; mngr's generated keys ride along so any
//! mngr pointed at the same daemon can reach the host (daemon access already means root in
//! every container, so this grants nothing new).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSnapshot {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CertifiedHostData {
    pub host_id: String,
    pub host_name: String,
    #[serde(default)]
    pub user_tags: BTreeMap<String, String>,
    #[serde(default)]
    pub snapshots: Vec<StoredSnapshot>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub build_log: Option<String>,
    #[serde(default = "default_idle")]
    pub idle_timeout_seconds: u64,
    #[serde(default)]
    pub activity_sources: Vec<String>,
    #[serde(default)]
    pub max_host_age: Option<u64>,
    #[serde(default)]
    pub tmux_session_prefix: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub plugin: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
}

fn default_idle() -> u64 {
    crate::config::DEFAULT_IDLE_TIMEOUT
}

/// How the container is (re)created: replayed on restore from a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSettings {
    #[serde(default)]
    pub start_args: Vec<String>,
    #[serde(default)]
    pub image: Option<String>,
    pub host_dir: String,
    /// The image mngr built for this host (removed on destroy), if any.
    #[serde(default)]
    pub built_image: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredKeys {
    pub client_private_key: String,
    pub client_public_key: String,
    pub host_private_key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredHost {
    pub certified_host_data: CertifiedHostData,
    #[serde(default)]
    pub ssh_host: Option<String>,
    /// Last observed; the live port from the daemon wins.
    #[serde(default)]
    pub ssh_port: Option<u16>,
    #[serde(default)]
    pub ssh_host_public_key: Option<String>,
    #[serde(default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub config: Option<ContainerSettings>,
    #[serde(default)]
    pub mngr_keys: Option<StoredKeys>,
}

impl StoredHost {
    pub fn host_id(&self) -> &str {
        &self.certified_host_data.host_id
    }
    pub fn name(&self) -> &str {
        &self.certified_host_data.host_name
    }
    pub fn touch(&mut self) {
        self.certified_host_data.updated_at = mngr_plugin_api::time::now_iso8601_utc_micros();
    }
    /// mngr's keys for the host; a record without them cannot be provisioned or reached.
    pub fn keys(&self) -> mngr_plugin_api::ProviderResult<&StoredKeys> {
        self.mngr_keys
            .as_ref()
            .ok_or_else(|| mngr_plugin_api::ProviderError::internal("host record has no keys"))
    }
}
