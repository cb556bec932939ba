//! The modal provider's part of the stored host record (see the kit's `record.rs`), kept on
//! the instance's Modal Volume at `/hosts/<host_id>.json`. The shared part's `snapshots` list
//! is the snapshot metadata, so it outlives every sandbox.

use serde::{Deserialize, Serialize};

pub use mngr_provider_kit::record::{HostData, HostSnapshot};

pub type StoredHost = mngr_provider_kit::record::StoredHost<SandboxPart>;

/// How the host's sandboxes are made: replayed by `start`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxSettings {
    /// The image built for the host (its first sandbox's).
    pub image_id: String,
    pub milli_cpu: u32,
    pub memory_mb: u32,
    #[serde(default)]
    pub gpu: Option<String>,
    pub timeout_secs: u32,
    pub host_dir: String,
}

/// The host's current sandbox, if any.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SandboxPart {
    #[serde(default)]
    pub sandbox_id: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// Unix seconds when the current sandbox started: with the timeout, when it will end.
    #[serde(default)]
    pub started_at: Option<u64>,
    #[serde(default)]
    pub settings: Option<SandboxSettings>,
    /// A create under way, recorded before it makes anything: a host whose creator died
    /// before its first agent is listed abandoned, for gc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<mngr_provider_kit::pending::Pending>,
}

pub fn path(host_id: &str) -> String {
    format!("/hosts/{host_id}.json")
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
