//! The provider contract for mngr.
//!
//! A provider *backend* is a stateless factory (`docker`, `modal`, ...) that builds provider
//! *instances* from a configuration table. An instance creates and manages *hosts*. Plugins
//! implement [`ProviderBackend`] and [`ProviderInstance`] as plain Rust and export them with
//! one macro; the FFI layer (the only place `abi_stable` appears) carries them across the
//! shared-library boundary.

#![deny(missing_docs)]

pub mod agent_record;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod error;
pub mod ffi;
pub mod fs;
pub mod host_data;
pub mod ids;
pub mod provider;
pub mod shell;
pub mod time;
pub mod types;

pub use agent_record::PersistedAgentRecord;
pub use error::{ErrorKind, ProviderError, ProviderResult};
pub use ffi::PluginInfo;
pub use ids::{
    AgentId, HostId, HostName, MAX_NEW_AGENT_NAME_LEN, NameError, SafeName,
    validate_new_agent_name, validate_prefix, validate_safe_name,
};
pub use provider::{HostServices, InstanceContext, LogLevel, ProviderBackend, ProviderInstance};
pub use types::*;

/// The version of this crate, which is the plugin API version a plugin is built against.
pub const PLUGIN_API_VERSION: &str = env!("CARGO_PKG_VERSION");
