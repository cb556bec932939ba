//! Open a plugin library, check it (file, abi_stable header, plugin-api version, interface
//! layout), read its metadata and run its start-up.

use crate::adapter::import_backend;
use crate::host_context::context_box;
use crate::precheck::check_library_file;
use crate::version::check_compatible;
use abi_stable::library::{LibraryError, lib_header_from_path};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::RResult;
use mngr_plugin_api::ffi::abi::{
    BackendBox, FfiError, FfiRegistrar, FfiRegistrar_TO, PluginModuleRef,
};
use mngr_plugin_api::{
    HostServices, PLUGIN_API_VERSION, PluginInfo, ProviderBackend, ProviderResult,
};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Why a library could not be used as a plugin. [`fmt::Display`] gives one line (without the
/// file name, which the caller adds).
#[derive(Debug, Clone, PartialEq)]
pub enum LoadError {
    /// Not a shared library at all, or a truncated or damaged one (found before `dlopen`).
    Damaged {
        /// What is wrong with the file, and the fix.
        reason: String,
    },
    /// The dynamic loader refused the file (wrong architecture, missing dependencies, ...).
    Open {
        /// The loader's first line, without the file name.
        reason: String,
    },
    /// A shared library that does not export the mngr plugin root module.
    NotAPlugin,
    /// Built against an incompatible mngr-plugin-api.
    IncompatibleApi {
        /// The plugin-api version the plugin was built against.
        plugin_api: String,
        /// The plugin-api version this host provides.
        host_api: String,
        /// Both versions and what to rebuild against.
        reason: String,
    },
    /// Built with another abi_stable ABI (0.y) than this mngr.
    AbiMismatch {
        /// The abi_stable header found.
        reason: String,
    },
    /// abi_stable's layout check found a different root module shape.
    Layout {
        /// One line: the mismatch, the field path, what was expected and found.
        reason: String,
    },
    /// The library's root module failed to initialize, or its metadata is malformed.
    Broken {
        /// What failed.
        reason: String,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Damaged { reason } => f.write_str(reason),
            LoadError::Open { reason } => {
                write!(f, "the dynamic loader cannot load it: {reason}")
            }
            LoadError::NotAPlugin => f.write_str(
                "not an mngr plugin (a shared library without the mngr plugin root module); \
                 remove it from the plugin directory",
            ),
            LoadError::IncompatibleApi { reason, .. } => write!(f, "refused: {reason}"),
            LoadError::AbiMismatch { reason } => write!(
                f,
                "refused: built with an incompatible abi_stable ({reason}); rebuild it against mngr-plugin-api {}",
                PLUGIN_API_VERSION
            ),
            LoadError::Layout { reason } => write!(
                f,
                "refused: its plugin interface layout differs from this mngr's ({reason}); rebuild it against mngr-plugin-api {}",
                PLUGIN_API_VERSION
            ),
            LoadError::Broken { reason } => write!(f, "broken plugin: {reason}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A library that passed every check; nothing of the plugin has run except `plugin_info`.
pub struct LoadedLibrary {
    /// What the plugin's `plugin_info` reported.
    pub info: PluginInfo,
    module: PluginModuleRef,
}

/// What `on_startup` registered.
pub struct StartedPlugin {
    /// The registered backends, in registration order.
    pub backends: Vec<Arc<dyn ProviderBackend>>,
}

/// The first line of a multi-line abi_stable message, without the file path it may repeat.
fn first_line(text: &str, path: &Path) -> String {
    let path_text = path.display().to_string();
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("unknown error")
        .replace(&format!("{path_text}: "), "")
        .replace(&path_text, "the file")
}

/// abi_stable's layout report is a long nested dump; keep what a reader needs in one line:
/// the kind of mismatch, where (the field path), and what was expected and found.
fn summarize_layout_error(report: &str) -> Option<String> {
    let lines: Vec<&str> = report.lines().map(str::trim).collect();
    let error = lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("Error:"))?
        .trim();
    let after = |label: &str| {
        let at = lines.iter().rposition(|l| *l == label)?;
        lines[at + 1..].iter().find(|l| !l.is_empty()).copied()
    };
    let is_ident = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let path: Vec<&str> = lines
        .iter()
        .rposition(|l| l.ends_with("error(s)inside:"))
        .map(|start| {
            lines[start..]
                .iter()
                .take_while(|l| !l.starts_with("Layout of expected type"))
                .filter_map(|l| l.strip_prefix("field_name:"))
                .filter(|f| is_ident(f))
                .collect()
        })
        .unwrap_or_default();
    let mut summary = error.to_string();
    if !path.is_empty() {
        summary.push_str(&format!(" at {}", path.join(" > ")));
    }
    if let (Some(expected), Some(found)) = (after("Expected:"), after("Found:")) {
        summary.push_str(&format!(": expected {expected}, found {found}"));
    }
    Some(summary)
}

impl LoadedLibrary {
    /// Open the library (it is never unloaded), check its versions and layout, read its info.
    pub fn open(path: &Path) -> Result<LoadedLibrary, LoadError> {
        check_library_file(path).map_err(|reason| LoadError::Damaged { reason })?;
        let header = lib_header_from_path(path).map_err(|err| match err {
            LibraryError::OpenError { err, .. } => LoadError::Open {
                reason: first_line(&err.to_string(), path),
            },
            LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin,
            LibraryError::InvalidAbiHeader(found) => LoadError::AbiMismatch {
                reason: format!("{found:?}"),
            },
            other => LoadError::Broken {
                reason: first_line(&other.to_string(), path),
            },
        })?;

        // Our own semver check first, so the message names both plugin-api versions.
        let plugin_api = header.version_strings().version.as_str().to_string();
        check_compatible(&plugin_api, PLUGIN_API_VERSION).map_err(|reason| {
            LoadError::IncompatibleApi {
                plugin_api: plugin_api.clone(),
                host_api: PLUGIN_API_VERSION.to_string(),
                reason,
            }
        })?;

        let module = header
            .init_root_module::<PluginModuleRef>()
            .map_err(|err| match err {
                LibraryError::AbiInstability(detail) => LoadError::Layout {
                    reason: summarize_layout_error(&detail.to_string())
                        .unwrap_or_else(|| first_line(&detail.to_string(), path)),
                },
                LibraryError::IncompatibleVersionNumber {
                    expected_version,
                    actual_version,
                    ..
                } => LoadError::IncompatibleApi {
                    plugin_api: actual_version.to_string(),
                    host_api: expected_version.to_string(),
                    reason: format!(
                        "it was built against mngr-plugin-api {actual_version}, but this mngr provides {expected_version}; rebuild the plugin against mngr-plugin-api {expected_version}"
                    ),
                },
                other => LoadError::Broken {
                    reason: first_line(&other.to_string(), path),
                },
            })?;

        let info_json = (module.plugin_info())();
        let info: PluginInfo =
            serde_json::from_str(info_json.as_str()).map_err(|e| LoadError::Broken {
                reason: format!("its plugin_info is not valid JSON metadata: {e}"),
            })?;
        Ok(LoadedLibrary { info, module })
    }

    /// Run the plugin's `on_startup` and wrap what it registered. A panic or error inside
    /// comes back as a [`ProviderError`](mngr_plugin_api::ProviderError) (kind `Panic` for a panic);
    /// nothing is registered then.
    pub fn start(&self, services: Arc<dyn HostServices>) -> ProviderResult<StartedPlugin> {
        let mut collector = Collector(Vec::new());
        let registrar = FfiRegistrar_TO::from_ptr(RMut::new(&mut collector), TD_Opaque);
        let result = (self.module.on_startup())(context_box(services), registrar);
        if let RResult::RErr(err) = result {
            return Err(err.into());
        }
        let mut backends: Vec<Arc<dyn ProviderBackend>> = Vec::new();
        for backend in collector.0 {
            backends.push(Arc::new(import_backend(backend)?));
        }
        Ok(StartedPlugin { backends })
    }
}

struct Collector(Vec<BackendBox>);

impl FfiRegistrar for Collector {
    fn register_provider_backend(&mut self, backend: BackendBox) -> RResult<(), FfiError> {
        self.0.push(backend);
        RResult::ROk(())
    }
}
