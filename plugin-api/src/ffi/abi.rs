//! The shapes that cross the shared-library boundary: the root module, four `sabi_trait`
//! objects and one error struct. Everything rich travels as serde JSON inside `RString`s, so
//! the contract types in this crate can gain fields without changing any layout here.
//!
//! Evolution rules (abi_stable's): never remove or reorder a field or method; new methods go
//! after the `last_prefix_field` one, in a minor release of this crate; moving
//! `last_prefix_field` needs a major release.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::RMut,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RStr, RString},
};

/// An error as data. `kind` is an [`crate::ErrorKind`] in snake_case; `details_json` is a JSON
/// value (or empty).
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    /// [`crate::ProviderError::kind`] in its wire form; unknown kinds read as `Other`.
    pub kind: RString,
    /// [`crate::ProviderError::message`].
    pub message: RString,
    /// [`crate::ProviderError::retryable`].
    pub retryable: bool,
    /// [`crate::ProviderError::details`] as JSON text; empty for none.
    pub details_json: RString,
    /// [`crate::ProviderError::hint`].
    pub hint: ROption<RString>,
}

/// What every fallible call returns: a JSON payload or an error.
pub type FfiResult = RResult<RString, FfiError>;

/// [`crate::LogLevel`] as [`FfiHostContext::log`] carries it.
pub fn log_level_code(level: crate::LogLevel) -> u8 {
    match level {
        crate::LogLevel::Error => 0,
        crate::LogLevel::Warn => 1,
        crate::LogLevel::Info => 2,
        crate::LogLevel::Debug => 3,
        crate::LogLevel::Trace => 4,
    }
}

/// The [`crate::LogLevel`] a [`FfiHostContext::log`] code stands for; codes a newer plugin
/// may send read as `Trace`.
pub fn log_level_from_code(code: u8) -> crate::LogLevel {
    match code {
        0 => crate::LogLevel::Error,
        1 => crate::LogLevel::Warn,
        2 => crate::LogLevel::Info,
        3 => crate::LogLevel::Debug,
        _ => crate::LogLevel::Trace,
    }
}

/// The host's services as the plugin sees them (logging, progress, version).
#[sabi_trait]
pub trait FfiHostContext: Send + Sync {
    /// `level`: 0 error, 1 warn, 2 info, 3 debug, 4 trace.
    fn log(&self, level: u8, message: RStr<'_>);
    /// [`crate::HostServices::progress`].
    fn progress(&self, message: RStr<'_>);
    /// [`crate::HostServices::host_version`].
    #[sabi(last_prefix_field)]
    fn host_version(&self) -> RString;
}

/// An owned host context handed to the plugin.
pub type HostContextBox = FfiHostContext_TO<'static, RBox<()>>;

/// A provider backend living in a plugin.
#[sabi_trait]
pub trait FfiBackend: Send + Sync {
    /// JSON of [`crate::BackendDescription`].
    fn describe(&self) -> FfiResult;

    /// `context_json`: `{instance_name, state_dir, prefix}`; `config_json`: the config table.
    #[sabi(last_prefix_field)]
    fn build_instance(
        &self,
        context_json: RStr<'_>,
        services: HostContextBox,
        config_json: RStr<'_>,
    ) -> RResult<InstanceBox, FfiError>;
}

/// An owned backend object, as a plugin registers it.
pub type BackendBox = FfiBackend_TO<'static, RBox<()>>;

/// A provider instance living in a plugin. Each method takes its arguments as one JSON value
/// (an object named after the trait method's parameters) and returns the JSON of the result.
#[sabi_trait]
pub trait FfiInstance: Send + Sync {
    /// [`crate::ProviderInstance::capabilities`].
    fn capabilities(&self) -> FfiResult;
    /// [`crate::ProviderInstance::create_host`].
    fn create_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::stop_host`].
    fn stop_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::start_host`].
    fn start_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::destroy_host`].
    fn destroy_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::delete_host`].
    fn delete_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::get_host`].
    fn get_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::discover_hosts`].
    fn discover_hosts(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::host_access`].
    fn host_access(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::create_snapshot`].
    fn create_snapshot(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::list_snapshots`].
    fn list_snapshots(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::delete_snapshot`].
    fn delete_snapshot(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::get_tags`].
    fn get_tags(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::set_tags`].
    fn set_tags(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::add_tags`].
    fn add_tags(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::remove_tags`].
    fn remove_tags(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::rename_host`].
    fn rename_host(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::persisted_agent_records`].
    fn persisted_agent_records(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::persist_agent_record`].
    fn persist_agent_record(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::remove_persisted_agent_record`].
    fn remove_persisted_agent_record(&self, args: RStr<'_>) -> FfiResult;
    /// [`crate::ProviderInstance::persist_host_record`].
    fn persist_host_record(&self, args: RStr<'_>) -> FfiResult;
    /// Escape hatch for operations added in a minor release before they get their own method:
    /// `method` names the operation; unknown methods return an `unsupported` error.
    #[sabi(last_prefix_field)]
    fn call(&self, method: RStr<'_>, args: RStr<'_>) -> FfiResult;
}

/// An owned instance object, as `build_instance` returns it.
pub type InstanceBox = FfiInstance_TO<'static, RBox<()>>;

/// Where the plugin's `on_startup` registers what it brings. Implemented by the host.
#[sabi_trait]
pub trait FfiRegistrar {
    /// Add one backend; the host wraps it back into a [`crate::ProviderBackend`].
    #[sabi(last_prefix_field)]
    fn register_provider_backend(&mut self, backend: BackendBox) -> RResult<(), FfiError>;
}

/// The registrar as `on_startup` borrows it.
pub type RegistrarMut<'a> = FfiRegistrar_TO<'a, RMut<'a, ()>>;

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
#[sabi(missing_field(panic))]
pub struct PluginModule {
    /// JSON of [`super::PluginInfo`]. Must not fail and must do no work.
    pub plugin_info: extern "C" fn() -> RString,

    /// Register the plugin's backends. Called once, after the version and layout checks.
    #[sabi(last_prefix_field)]
    pub on_startup:
        extern "C" fn(host: HostContextBox, registrar: RegistrarMut<'_>) -> RResult<(), FfiError>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "mngr_plugin";
    const NAME: &'static str = "mngr plugin";
    // The version of this crate: the plugin API version the plugin was built against.
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
