//! The stable FFI layer: with the host's loader crate, the only place `abi_stable` appears.
//!
//! A plugin is a `cdylib` that exports one root module (`abi::PluginModule`) with two
//! functions: `plugin_info` (JSON metadata) and `on_startup(host context, registrar)`, which
//! registers provider backends. Backends and instances cross as `sabi_trait` objects whose
//! methods carry serde JSON, so the contract types can grow without breaking layout.
//!
//! This crate holds the plugin side ([`export_plugin!`](crate::export_plugin)): a plain Rust
//! `impl ProviderBackend` becomes a sabi object, and every call runs under `catch_unwind`, so
//! a panic becomes a [`crate::ProviderError`] of kind `Panic` instead of aborting the host. The
//! host side (opening a library, the version and layout checks, wrapping its objects back into
//! the plain traits) lives in the host's own `mngr-plugin-loader` crate, which vendors never
//! need.
//!
//! The loader is a separate crate, so what it shares with this one must be public: the ABI
//! shapes (`abi`), the JSON conversions (`convert`) and the export functions (`export`,
//! for in-process round trips in tests). They are hidden from the docs because they are not
//! for vendors and may change in any release; a plugin only ever uses `export_plugin!`.

#[doc(hidden)]
pub mod abi;
#[doc(hidden)]
pub mod convert;
#[doc(hidden)]
pub mod export;
mod remote;

pub use remote::plugin_host;

use serde::{Deserialize, Serialize};

/// A plugin's metadata, as its `plugin_info` function reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PluginInfo {
    /// The plugin's name (a SafeName); `[plugins.NAME]` and `--disable-plugin NAME` use it.
    pub name: String,
    /// The plugin's own version.
    pub version: String,
    /// The `mngr-plugin-api` version the plugin was built against.
    pub plugin_api_version: String,
    /// One line saying what the plugin brings; `mngr plugin show` prints it.
    #[serde(default)]
    pub description: String,
}

/// Re-exports the export macro needs; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use super::abi::FfiError;
    pub use super::abi::{HostContextBox, PluginModuleRef, RegistrarMut};
    pub use super::export::{PluginDefinition, on_startup, plugin_info, root_module};
    pub use abi_stable::library::{
        __call_root_module_loader, CheckTypeLayout, LibHeader, RootModuleResult,
    };
    pub use abi_stable::std_types::{RResult, RString};
}

/// The symbol the export macro writes (abi_stable's `ROOT_MODULE_LOADER_NAME`).
pub const ROOT_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    #[test]
    fn the_export_macro_uses_abi_stables_root_symbol() {
        assert_eq!(
            super::ROOT_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
