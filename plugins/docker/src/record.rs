//! The host record kept on the state volume (`host_state/<host_id>.json`). Its keys follow the
//! shared layout so other mngr versions can read it; mngr's generated keys ride along so any
//! mngr pointed at the same daemon can reach the host (daemon access already means root in
//! every container, so this grants nothing new).

use serde::{Deserialize, Serialize};

/// The host record's shared part: the same type as `<host_dir>/data.json`.
pub use mngr_plugin_api::host_data::{HostData, HostSnapshot};

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
    pub certified_host_data: HostData,
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
    /// An operation under way (create, destroy): recorded before it changes anything, so a
    /// host whose mngr was killed is found and finished by the next command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::pending::Pending>,
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
