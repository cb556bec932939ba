//! Data types of the provider contract. They cross the FFI boundary as JSON, so fields can be
//! added (with `#[serde(default)]`) without breaking plugins built against older versions.
//!
//! The structs a provider builds are `#[non_exhaustive]`, so a field added in a compatible
//! release does not break a plugin's source either: build them with their `new` constructor
//! (which takes the fields every value needs), then set optional fields with the `with_*`
//! methods or by assigning the public field.

use crate::ids::{HostId, HostName};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a provider instance can do. The CLI refuses unsupported operations up front.
///
/// Start from [`Capabilities::none`] (or `default()`) and set what the instance supports:
/// `let mut caps = Capabilities::none(); caps.stop_start = true;`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
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

impl Capabilities {
    /// Nothing beyond the operations every instance has (get, discover, access).
    pub const fn none() -> Self {
        Capabilities {
            snapshots: false,
            stop_start: false,
            mutable_tags: false,
            volumes: false,
            rename: false,
            create_hosts: false,
            destroy_hosts: false,
        }
    }
}

/// Host states, as UPPERCASE strings on the wire. A provider reports the state it observes
/// now; the host decides from it whether a host can be reached (`Running`), started again
/// (`Stopped`, `Paused`) or only listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HostState {
    /// Its image or filesystem is still being made; not reachable yet.
    Building,
    /// Made and booting (sshd not answering yet).
    Starting,
    /// Up: [`crate::ProviderInstance::host_access`] must return a working way in.
    Running,
    /// Shutting down after a stop request.
    Stopping,
    /// Stopped on request or because no agent was left, filesystem kept; `start_host` can
    /// bring it back.
    Stopped,
    /// Stopped by its idle watcher, filesystem kept; `start_host` can bring it back.
    Paused,
    /// Ended without a stop request (its main process died); say why in `failure_reason`
    /// if known.
    Crashed,
    /// Could not be built or started; say why in `failure_reason`.
    Failed,
    /// Gone: only listed when `discover_hosts` is asked to include destroyed hosts.
    Destroyed,
    /// The provider cannot see the host's state because its credentials were refused.
    Unauthenticated,
    /// A state a newer plugin sends that this host does not know; treated as not reachable.
    #[serde(other)]
    Unknown,
}

impl HostState {
    /// The wire form (`RUNNING`, ...), also what `mngr list` shows.
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

/// An enum over a closed set of wire strings whose unknown values keep their text (`Other`):
/// these values are also stored in `data.json`, and a rewrite must not lose what another mngr
/// version wrote there.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value a newer release writes that this one does not know, as written.
            Other(String),
        }

        impl $name {
            /// The wire form, the same string serde writes.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $text,)*
                    $name::Other(text) => text,
                }
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                match text.as_str() {
                    $($text => $name::$variant,)*
                    _ => $name::Other(text),
                }
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                match value {
                    $name::Other(text) => text,
                    known => known.as_str().to_string(),
                }
            }
        }
    };
}

text_enum!(
    /// Why a host stopped, as UPPERCASE strings on the wire (`PAUSED`, `STOPPED`, `DESTROYED`).
    StopReason {
        /// Stopped by its idle watcher ([`HostState::Paused`]).
        Paused = "PAUSED",
        /// Stopped by the user, or because no agent was left ([`HostState::Stopped`]).
        Stopped = "STOPPED",
        /// Destroyed ([`HostState::Destroyed`]).
        Destroyed = "DESTROYED",
    }
);

text_enum!(
    /// A kind of activity that keeps a host up, as UPPERCASE strings on the wire. The activity
    /// watcher a provider installs stops the host when none of the chosen kinds happened for
    /// the idle timeout.
    ActivitySource {
        /// Someone typed into or attached to an agent's session.
        User = "USER",
        /// An agent reported it was working.
        Agent = "AGENT",
        /// An SSH connection to the host.
        Ssh = "SSH",
        /// An agent was created.
        Create = "CREATE",
        /// An agent was started.
        Start = "START",
        /// The host booted.
        Boot = "BOOT",
        /// An agent's process is still running.
        Process = "PROCESS",
    }
);

/// What a provider knows about one host, cheaply (without connecting to it). `get_host`,
/// `discover_hosts`, `create_host`, `start_host` and `rename_host` return it; the host lists
/// and addresses hosts by it, so it must come from the provider's own records or API, never
/// from a connection to the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostRecord {
    /// The host's id, chosen by the provider with [`HostId::generate`] when it creates the
    /// host and never changed afterwards.
    pub id: HostId,
    /// The host's name, unique among this instance's hosts that are not destroyed.
    pub name: HostName,
    /// The provider instance that owns the host.
    pub provider: String,
    /// The state observed now.
    pub state: HostState,
    /// The image (or template) the host was made from, if the provider has such a notion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The host's user tags (`mngr create --tag K=V`), as stored by the provider.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// ISO-8601 UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Why the host stopped; absent if running or crashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<StopReason>,
    /// One line saying why a `Failed` (or, if known, a `Crashed`) host failed, for the user.
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

impl HostRecord {
    /// A record with the fields every host has; the optional ones start empty (set them with
    /// the `with_*` methods or by assignment).
    pub fn new(
        id: HostId,
        name: HostName,
        provider: impl Into<String>,
        state: HostState,
        host_dir: impl Into<String>,
    ) -> Self {
        HostRecord {
            id,
            name,
            provider: provider.into(),
            state,
            image: None,
            tags: BTreeMap::new(),
            created_at: None,
            stop_reason: None,
            failure_reason: None,
            host_dir: host_dir.into(),
            details: BTreeMap::new(),
            abandoned: None,
        }
    }
    /// Set [`HostRecord::image`].
    pub fn with_image(mut self, image: impl Into<String>) -> Self {
        self.image = Some(image.into());
        self
    }
    /// Set [`HostRecord::tags`].
    pub fn with_tags(mut self, tags: BTreeMap<String, String>) -> Self {
        self.tags = tags;
        self
    }
    /// Set [`HostRecord::created_at`].
    pub fn with_created_at(mut self, created_at: impl Into<String>) -> Self {
        self.created_at = Some(created_at.into());
        self
    }
    /// Set [`HostRecord::stop_reason`].
    pub fn with_stop_reason(mut self, reason: StopReason) -> Self {
        self.stop_reason = Some(reason);
        self
    }
    /// Set [`HostRecord::failure_reason`].
    pub fn with_failure_reason(mut self, reason: impl Into<String>) -> Self {
        self.failure_reason = Some(reason.into());
        self
    }
    /// Set [`HostRecord::details`].
    pub fn with_details(mut self, details: BTreeMap<String, serde_json::Value>) -> Self {
        self.details = details;
        self
    }
}

/// How the host binary reaches a host to run commands and move files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAccess {
    /// This machine: commands run directly. Build it with [`HostAccess::local`].
    #[non_exhaustive]
    Local {
        /// The directory on this machine where mngr keeps the host's records.
        host_dir: String,
    },
    /// Over SSH, with a host key pinned before the first connection.
    Ssh(SshEndpoint),
}

impl HostAccess {
    /// [`HostAccess::Local`] with its records in `host_dir`.
    pub fn local(host_dir: impl Into<String>) -> Self {
        HostAccess::Local {
            host_dir: host_dir.into(),
        }
    }
}

/// An SSH endpoint with everything needed to connect without trusting on first use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SshEndpoint {
    /// Host name or IP address the host binary connects to.
    pub address: String,
    /// TCP port of the host's sshd.
    pub port: u16,
    /// The login user (agents run as this user).
    pub user: String,
    /// Path of the client private key (mode 0600) on this machine.
    pub private_key_path: String,
    /// The host's public key in OpenSSH format (`ssh-ed25519 AAAA...`), pinned.
    pub host_public_key: String,
    /// The directory on the host where mngr keeps its records (`$MNGR_HOST_DIR`).
    pub host_dir: String,
    /// Quicker ways to the same sshd, tried in order before `address:port`, each with a short
    /// connect timeout: for example a container's own address when the Docker daemon runs on
    /// this machine, which skips Docker's port proxy. The pinned host key is checked the same
    /// way on every route.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub direct_routes: Vec<SshRoute>,
}

impl SshEndpoint {
    /// An endpoint at `address:port`, logging in as `user` with the private key at
    /// `private_key_path` and pinning `host_public_key`; no direct routes.
    pub fn new(
        address: impl Into<String>,
        port: u16,
        user: impl Into<String>,
        private_key_path: impl Into<String>,
        host_public_key: impl Into<String>,
        host_dir: impl Into<String>,
    ) -> Self {
        SshEndpoint {
            address: address.into(),
            port,
            user: user.into(),
            private_key_path: private_key_path.into(),
            host_public_key: host_public_key.into(),
            host_dir: host_dir.into(),
            direct_routes: Vec::new(),
        }
    }
    /// Set [`SshEndpoint::direct_routes`].
    pub fn with_direct_routes(mut self, routes: Vec<SshRoute>) -> Self {
        self.direct_routes = routes;
        self
    }

    /// The host key algorithms (SSH names) a client offers so that a server holding several
    /// host keys shows the pinned one, `host_public_key` (`TYPE BASE64`): its own type, and
    /// for an RSA key the SHA-2 signatures (servers refuse SHA-1 `ssh-rsa`).
    pub fn host_key_algorithms(host_public_key: &str) -> Vec<String> {
        match host_public_key
            .split_whitespace()
            .next()
            .unwrap_or_default()
        {
            "ssh-rsa" => vec!["rsa-sha2-512".to_string(), "rsa-sha2-256".to_string()],
            other => vec![other.to_string()],
        }
    }
}

/// One network route to an SSH server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SshRoute {
    /// Host name or IP address.
    pub address: String,
    /// TCP port.
    pub port: u16,
}

impl SshRoute {
    /// The route to `address:port`.
    pub fn new(address: impl Into<String>, port: u16) -> Self {
        SshRoute {
            address: address.into(),
            port,
        }
    }
}

/// One snapshot of a host's filesystem, as `create_snapshot` and `list_snapshots` report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SnapshotInfo {
    /// The provider's id for the snapshot; `start_host` and `delete_snapshot` receive it.
    pub id: String,
    /// The name the user gave, or one the provider chose.
    pub name: String,
    /// ISO-8601 UTC.
    pub created_at: String,
    /// The snapshot's size, if the provider knows it cheaply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

impl SnapshotInfo {
    /// A snapshot of unknown size.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        created_at: impl Into<String>,
    ) -> Self {
        SnapshotInfo {
            id: id.into(),
            name: name.into(),
            created_at: created_at.into(),
            size_bytes: None,
        }
    }
    /// Set [`SnapshotInfo::size_bytes`].
    pub fn with_size_bytes(mut self, size_bytes: u64) -> Self {
        self.size_bytes = Some(size_bytes);
        self
    }
}

/// Idle detection settings for a new host. A provider writes them into the new host's
/// `data.json` (see [`crate::host_data::HostData`]); `None` keeps the default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HostLifecycle {
    /// Stop the host after this long without activity.
    pub idle_timeout_seconds: Option<u64>,
    /// The kinds of activity that keep the host up.
    pub activity_sources: Option<Vec<ActivitySource>>,
}

/// Everything `create_host` needs. Fields this provider cannot honour are refused with
/// `InvalidInput` (an image for a provider without images, say), not ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CreateHostRequest {
    /// The new host's name.
    pub name: HostName,
    /// The image (or template) to make the host from; `None` means the provider's default.
    #[serde(default)]
    pub image: Option<String>,
    /// User tags to store with the host and report in its [`HostRecord`].
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
    /// Idle detection settings to provision.
    #[serde(default)]
    pub lifecycle: HostLifecycle,
    /// Extra public keys to authorize on the host.
    #[serde(default)]
    pub authorized_keys: Vec<String>,
}

impl CreateHostRequest {
    /// The smallest request: just the name, everything else the provider's default. Set the
    /// rest by assignment (`request.image = Some(..)`).
    pub fn new(name: HostName) -> Self {
        CreateHostRequest {
            name,
            image: None,
            tags: BTreeMap::new(),
            build_args: Vec::new(),
            start_args: Vec::new(),
            snapshot: None,
            flags: BTreeMap::new(),
            lifecycle: HostLifecycle::default(),
            authorized_keys: Vec::new(),
        }
    }
}

/// The type of a provider-specific `mngr create` flag's value, as snake_case strings on the
/// wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    /// Any text.
    String,
    /// A whole number (JSON integer).
    Integer,
    /// A number (JSON number).
    Float,
    /// A switch: present means `true`.
    Bool,
    /// A type a newer plugin names that this host does not know; the host passes the flag's
    /// text on as a string and leaves checking it to the plugin.
    #[serde(other)]
    Unknown,
}

/// A provider-specific flag the backend adds to `mngr create` (such as `--gpu` or `--memory`).
/// Its value reaches `create_host` in [`CreateHostRequest::flags`] under `name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FlagSpec {
    /// Long flag name without dashes.
    pub name: String,
    /// How the host parses the value before passing it on.
    pub value_type: ValueType,
    /// One line for `mngr create --help`.
    pub help: String,
}

impl FlagSpec {
    /// The flag `--NAME` of type `value_type`, with its help line.
    pub fn new(name: impl Into<String>, value_type: ValueType, help: impl Into<String>) -> Self {
        FlagSpec {
            name: name.into(),
            value_type,
            help: help.into(),
        }
    }
}

/// The type of a backend configuration key's value ([`ConfigField::value_type`]), as
/// snake_case strings on the wire (`string`, `string_list`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigValueType {
    /// Text.
    String,
    /// A whole number.
    Integer,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// A list of strings.
    StringList,
    /// A table (a JSON object) of its own keys.
    Table,
    /// A type a newer release names that this one does not know.
    #[serde(other)]
    Unknown,
}

impl ConfigValueType {
    /// The wire form (`string`, `string_list`, ...), the same string serde writes.
    pub fn as_str(self) -> &'static str {
        match self {
            ConfigValueType::String => "string",
            ConfigValueType::Integer => "integer",
            ConfigValueType::Float => "float",
            ConfigValueType::Bool => "bool",
            ConfigValueType::StringList => "string_list",
            ConfigValueType::Table => "table",
            ConfigValueType::Unknown => "unknown",
        }
    }
}

/// One key of a backend's configuration table, described for users. It describes the key
/// only: the backend still parses and checks the table itself in `build_instance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConfigField {
    /// The key.
    pub name: String,
    /// The type its value must have.
    pub value_type: ConfigValueType,
    /// One line saying what the key does.
    pub help: String,
    /// The value used when the key is absent, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

impl ConfigField {
    /// The key `name` of type `value_type`, with its help line and no default.
    pub fn new(
        name: impl Into<String>,
        value_type: ConfigValueType,
        help: impl Into<String>,
    ) -> Self {
        ConfigField {
            name: name.into(),
            value_type,
            help: help.into(),
            default: None,
        }
    }
    /// Set [`ConfigField::default`].
    pub fn with_default(mut self, default: impl Into<serde_json::Value>) -> Self {
        self.default = Some(default.into());
        self
    }
}

/// What a backend says about itself, returned by [`crate::ProviderBackend::describe`]. The host
/// reads it once, when it registers the backend, and never asks again: it must not depend on
/// configuration or on the state of any remote service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct BackendDescription {
    /// The backend's name (a SafeName), which `backend = "..."` in a provider table selects.
    pub name: String,
    /// One line saying what kind of hosts the backend makes.
    pub description: String,
    /// The keys its `[providers.NAME]` table accepts (besides the common ones).
    #[serde(default)]
    pub config_fields: Vec<ConfigField>,
    /// What `-b` arguments this backend accepts and what they do.
    #[serde(default)]
    pub build_args_help: String,
    /// What `-s` arguments this backend accepts and what they do.
    #[serde(default)]
    pub start_args_help: String,
    /// The flags this backend adds to `mngr create`.
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
    /// Set [`BackendDescription::config_fields`].
    pub fn with_config_fields(mut self, fields: Vec<ConfigField>) -> Self {
        self.config_fields = fields;
        self
    }
    /// Set [`BackendDescription::build_args_help`].
    pub fn with_build_args_help(mut self, help: impl Into<String>) -> Self {
        self.build_args_help = help.into();
        self
    }
    /// Set [`BackendDescription::start_args_help`].
    pub fn with_start_args_help(mut self, help: impl Into<String>) -> Self {
        self.start_args_help = help.into();
        self
    }
    /// Set [`BackendDescription::create_flags`].
    pub fn with_create_flags(mut self, flags: Vec<FlagSpec>) -> Self {
        self.create_flags = flags;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_value_types_keep_their_wire_strings() {
        let all = [
            ConfigValueType::String,
            ConfigValueType::Integer,
            ConfigValueType::Float,
            ConfigValueType::Bool,
            ConfigValueType::StringList,
            ConfigValueType::Table,
            ConfigValueType::Unknown,
        ];
        for ty in all {
            let json = serde_json::to_value(ty).unwrap();
            assert_eq!(json, serde_json::Value::from(ty.as_str()));
            assert_eq!(serde_json::from_value::<ConfigValueType>(json).unwrap(), ty);
        }
        // What a plugin built before the enum sends, and a type from a newer release.
        let old: ConfigField =
            serde_json::from_str(r#"{"name":"volumes","value_type":"string_list","help":"h"}"#)
                .unwrap();
        assert_eq!(old.value_type, ConfigValueType::StringList);
        assert_eq!(
            serde_json::to_value(&old).unwrap()["value_type"],
            "string_list"
        );
        let newer: ConfigField =
            serde_json::from_str(r#"{"name":"ttl","value_type":"duration","help":"h"}"#).unwrap();
        assert_eq!(newer.value_type, ConfigValueType::Unknown);
    }

    #[test]
    fn a_flag_type_from_a_newer_plugin_reads_as_unknown() {
        let flag: FlagSpec =
            serde_json::from_str(r#"{"name":"ttl","value_type":"duration","help":"h"}"#).unwrap();
        assert_eq!(flag.value_type, ValueType::Unknown);
        let known: FlagSpec =
            serde_json::from_str(r#"{"name":"n","value_type":"integer","help":"h"}"#).unwrap();
        assert_eq!(known, FlagSpec::new("n", ValueType::Integer, "h"));
    }

    #[test]
    fn constructors_write_the_json_literals_wrote() {
        let id = HostId::generate();
        let record = HostRecord::new(
            id.clone(),
            HostName::parse("h1").unwrap(),
            "dirs",
            HostState::Running,
            "/d",
        )
        .with_tags(BTreeMap::from([("k".to_string(), "v".to_string())]))
        .with_created_at("2024-01-01T00:00:00Z");
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            serde_json::json!({"id": id.as_str(), "name": "h1", "provider": "dirs",
                "state": "RUNNING", "tags": {"k": "v"}, "created_at": "2024-01-01T00:00:00Z",
                "host_dir": "/d"})
        );
        let access = HostAccess::Ssh(
            SshEndpoint::new("127.0.0.1", 2222, "root", "/k", "ssh-ed25519 AAAA", "/mngr")
                .with_direct_routes(vec![SshRoute::new("10.0.0.2", 22)]),
        );
        assert_eq!(
            serde_json::to_value(&access).unwrap(),
            serde_json::json!({"kind": "ssh", "address": "127.0.0.1", "port": 2222,
                "user": "root", "private_key_path": "/k", "host_public_key": "ssh-ed25519 AAAA",
                "host_dir": "/mngr", "direct_routes": [{"address": "10.0.0.2", "port": 22}]})
        );
        assert_eq!(
            serde_json::to_value(HostAccess::local("/d")).unwrap(),
            serde_json::json!({"kind": "local", "host_dir": "/d"})
        );
        assert_eq!(Capabilities::none(), Capabilities::default());
        assert_eq!(
            SshEndpoint::host_key_algorithms("ssh-ed25519 AAAA c"),
            ["ssh-ed25519"]
        );
        assert_eq!(
            SshEndpoint::host_key_algorithms("ssh-rsa AAAA"),
            ["rsa-sha2-512", "rsa-sha2-256"]
        );
    }

    #[test]
    fn stop_reasons_keep_their_wire_strings_and_unknown_text() {
        for (text, reason) in [
            ("PAUSED", StopReason::Paused),
            ("STOPPED", StopReason::Stopped),
            ("DESTROYED", StopReason::Destroyed),
            ("HIBERNATED", StopReason::Other("HIBERNATED".to_string())),
        ] {
            let read: StopReason = serde_json::from_value(serde_json::Value::from(text)).unwrap();
            assert_eq!(read, reason);
            assert_eq!(read.as_str(), text);
            assert_eq!(serde_json::to_value(&read).unwrap(), text);
        }
    }

    #[test]
    fn activity_sources_keep_their_wire_strings_and_unknown_text() {
        let json = r#"{"activity_sources":["USER","AGENT","SSH","CREATE","START","BOOT","PROCESS","GPU"]}"#;
        let lifecycle: HostLifecycle = serde_json::from_str(json).unwrap();
        let sources = lifecycle.activity_sources.clone().unwrap();
        assert_eq!(sources[0], ActivitySource::User);
        assert_eq!(sources[6], ActivitySource::Process);
        assert_eq!(sources[7], ActivitySource::Other("GPU".to_string()));
        assert_eq!(
            serde_json::to_value(&lifecycle).unwrap(),
            serde_json::from_str::<serde_json::Value>(&format!(
                r#"{{"idle_timeout_seconds":null,{}"#,
                &json[1..]
            ))
            .unwrap()
        );
    }
}
