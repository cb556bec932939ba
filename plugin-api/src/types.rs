//! Data types of the provider contract. They cross the FFI boundary as JSON, so fields can be
//! added (with `#[serde(default)]`) without breaking plugins built against older versions.

use crate::ids::{HostId, HostName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a provider instance can do. The CLI refuses unsupported operations up front.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Capabilities {
    /// `create_snapshot`, `list_snapshots`, `delete_snapshot`, and starting from a snapshot.
    pub snapshots: bool,
    /// A stopped host can be started again with its filesystem intact.
    pub stop_start: bool,
    /// Tags can change after the host is created.
    pub mutable_tags: bool,
    /// The provider manages volumes.
    pub volumes: bool,
    /// Hosts can be renamed.
    pub rename: bool,
    /// The provider can create more than one host (local cannot).
    pub create_hosts: bool,
    /// Hosts can be destroyed.
    pub destroy_hosts: bool,
}

/// Host states, as UPPERCASE strings on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostState {
    Building,
    Starting,
    Running,
    Stopping,
    Stopped,
    Paused,
    Crashed,
    Failed,
    Destroyed,
    Unauthenticated,
    #[serde(other)]
    Unknown,
}

impl HostState {
    pub fn as_str(self) -> &'static str {
        match self {
            HostState::Building => "BUILDING",
            HostState::Starting => "STARTING",
            HostState::Running => "RUNNING",
            HostState::Stopping => "STOPPING",
            HostState::Stopped => "STOPPED",
            HostState::Paused => "PAUSED",
            HostState::Crashed => "CRASHED",
            HostState::Failed => "FAILED",
            HostState::Destroyed => "DESTROYED",
            HostState::Unauthenticated => "UNAUTHENTICATED",
            HostState::Unknown => "UNKNOWN",
        }
    }
}

/// What a provider knows about one host, cheaply (without connecting to it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRecord {
    pub id: HostId,
    pub name: HostName,
    /// The provider instance that owns the host.
    pub provider: String,
    pub state: HostState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// ISO-8601 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Why the host stopped: `PAUSED` (idle), `STOPPED` (user), `DESTROYED`; absent if running or crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The directory on the host where mngr keeps its records (`$MNGR_HOST_DIR`).
    pub host_dir: String,
    /// Provider-specific facts worth showing (container id, daemon, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
    /// Set on a host left over by an operation whose process is gone (a create killed before
    /// the host's first agent, a destroy killed midway), saying why. `mngr gc` destroys such a
    /// host through `destroy_host`; listing shows it and changes nothing. A provider sets it
    /// only when it knows the host holds no agent records, and never on a host a live process
    /// is still working on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abandoned: Option<String>,
}

/// How the host binary reaches a host to run commands and move files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAccess {
    /// This machine: commands run directly.
    Local { host_dir: String },
    /// Over SSH, with a host key pinned before the first connection.
    Ssh(SshEndpoint),
}

/// An SSH endpoint with everything needed to connect without trusting on first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SshEndpoint {
    pub address: String,
    pub port: u16,
    pub user: String,
    /// Path of the client private key (mode 0600) on this machine.
    pub private_key_path: String,
    /// The host's public key in OpenSSH format (`ssh-ed25519 AAAA...`), pinned.
    pub host_public_key: String,
    pub host_dir: String,
    /// Quicker ways to the same sshd, tried in order before `address:port`, each with a short
    /// connect timeout: for example a container's own address when the Docker daemon runs on
    /// this machine, which skips Docker's port proxy. The pinned host key is checked the same
    /// way on every route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direct_routes: Vec<SshRoute>,
}

/// One network route to an SSH server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshRoute {
    pub address: String,
    pub port: u16,
}

/// One snapshot of a host's filesystem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub id: String,
    pub name: String,
    /// ISO-8601 UTC.
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// Idle detection settings for a new host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostLifecycle {
    pub idle_timeout_seconds: Option<u64>,
    /// UPPERCASE activity source names (USER, AGENT, SSH, CREATE, START, BOOT, PROCESS).
    pub activity_sources: Option<Vec<String>>,
}

/// Everything `create_host` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateHostRequest {
    pub name: HostName,
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// `-b` arguments, passed through to the backend's build step.
    #[serde(default)]
    pub build_args: Vec<String>,
    /// `-s` arguments, passed through to the backend's start step.
    #[serde(default)]
    pub start_args: Vec<String>,
    /// Start from this snapshot instead of building.
    #[serde(default)]
    pub snapshot: Option<String>,
    /// Values of the provider-specific flags this backend registered (`--gpu h100` => `{"gpu": "h100"}`).
    #[serde(default)]
    pub flags: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub lifecycle: HostLifecycle,
    /// Extra public keys to authorize on the host.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
}

/// The type of a provider-specific `mngr create` flag's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    String,
    Integer,
    Float,
    /// A switch: present means `true`.
    Bool,
}

/// A provider-specific flag the backend adds to `mngr create` (such as `--gpu` or `--memory`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagSpec {
    /// Long flag name without dashes.
    pub name: String,
    pub value_type: ValueType,
    pub help: String,
}

/// One key of a backend's configuration table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigField {
    pub name: String,
    /// `string`, `integer`, `float`, `bool`, `string_list`, `table`.
    pub value_type: String,
    pub help: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

/// What a backend says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendDescription {
    pub name: String,
    pub description: String,
    /// The keys its `[providers.NAME]` table accepts (besides the common ones).
    #[serde(default)]
    pub config_fields: Vec<ConfigField>,
    #[serde(default)]
    pub build_args_help: String,
    #[serde(default)]
    pub start_args_help: String,
    #[serde(default)]
    pub create_flags: Vec<FlagSpec>,
}

impl BackendDescription {
    /// A backend with a name and a one-line description only: no configuration keys, no
    /// argument help, no create flags.
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> Self {
        BackendDescription {
            name: name.into(),
            description: description.into(),
            config_fields: Vec::new(),
            build_args_help: String::new(),
            start_args_help: String::new(),
            create_flags: Vec::new(),
        }
    }
}
