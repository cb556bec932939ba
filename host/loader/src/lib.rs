//! The mngr host's side of the plugin interface: open a plugin library, check it before any
//! of its code runs (the file itself, abi_stable's header, the plugin-api version, the
//! interface layout), start it, and wrap what it registers back into the plain
//! [`mngr_plugin_api::ProviderBackend`] and [`mngr_plugin_api::ProviderInstance`] traits.
//!
//! Plugin vendors never depend on this crate: it is the host's, and changes with it. The
//! contract they build against is `mngr-plugin-api` alone.

#![deny(missing_docs)]

mod adapter;
mod host_context;
mod load;
mod precheck;
mod version;

pub use adapter::{PluginBackend, PluginInstance, import_backend};
pub use load::{LoadError, LoadedLibrary, StartedPlugin};
