//! The docker provider's part of the stored host record (see the kit's `record.rs`): the host
//! record on the state volume (`host_state/<host_id>.json`).

use serde::{Deserialize, Serialize};

pub use mngr_provider_kit::record::{HostData, HostSnapshot, StoredKeys};

/// A docker host's record.
pub type StoredHost = mngr_provider_kit::record::StoredHost<ContainerPart>;

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

/// What the record holds about the host's container.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ContainerPart {
    #[serde(default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub config: Option<ContainerSettings>,
    /// An operation under way (create, destroy): recorded before it changes anything, so a
    /// host whose mngr was killed is found and finished by the next command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<crate::pending::Pending>,
}
