//! A VPS host's stored record (the kit's `StoredHost` with the VPS part), kept on the state
//! volume of the VPS's own Docker, and the tags that find a VPS through the provider's API.

use serde::{Deserialize, Serialize};

pub use mngr_provider_kit::record::HostData;

pub type StoredHost = mngr_provider_kit::record::StoredHost<VpsPart>;

/// Tags on every VPS mngr orders (`key=value`).
pub const TAG_PROVIDER: &str = "mngr-provider";
pub const TAG_HOST_ID: &str = "mngr-host-id";
pub const TAG_HOST_NAME: &str = "mngr-host-name";

/// The VPS a host runs on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpsMachine {
    pub instance_id: String,
    pub address: String,
    pub region: String,
    pub plan: String,
    pub os: String,
    /// The key registered with the provider for root logins (removed on destroy).
    pub ssh_key_id: Option<String>,
    /// The VPS's own sshd host key (mngr generated it and sent it in the user_data).
    pub host_public_key: String,
}

/// How the container is (re)created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSettings {
    #[serde(default)]
    pub start_args: Vec<String>,
    pub image: String,
    pub host_dir: String,
}

/// What the record holds beside the shared part.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct VpsPart {
    #[serde(default)]
    pub vps: Option<VpsMachine>,
    #[serde(default)]
    pub container_id: Option<String>,
    #[serde(default)]
    pub container: Option<ContainerSettings>,
}

/// Local key files of a host (under the kit's per-host key directory, 0600 in 0700): mngr's
/// key for root on the VPS and the VPS's pinned host key. The container's client key is the
/// kit's `id_ed25519` beside them: the VPS and the container have separate keypairs.
pub const VPS_CLIENT_KEY_FILE: &str = "vps_ed25519";
pub const VPS_HOST_KEY_FILE: &str = "vps_host_ed25519.pub";
