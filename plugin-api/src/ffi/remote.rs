//! The host's services seen from inside a plugin, and a plugin-wide handle to them.

use super::abi::{FfiHostContext_TO, HostContextBox};
use crate::provider::{HostServices, LogLevel};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RStr, RString};
use std::sync::{Arc, OnceLock};

/// Implements [`HostServices`] by calling back into the host through the context object.
pub(crate) struct RemoteHostServices(pub(crate) HostContextBox);

impl HostServices for RemoteHostServices {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.log(level_code(level), RStr::from_str(message));
    }
    fn progress(&self, message: &str) {
        self.0.progress(RStr::from_str(message));
    }
    fn host_version(&self) -> String {
        self.0.host_version().into()
    }
}

/// Implements the context object over the host's own [`HostServices`].
pub(crate) struct LocalHostContext(pub(crate) Arc<dyn HostServices>);

impl super::abi::FfiHostContext for LocalHostContext {
    fn log(&self, level: u8, message: RStr<'_>) {
        self.0.log(level_from_code(level), message.as_str());
    }
    fn progress(&self, message: RStr<'_>) {
        self.0.progress(message.as_str());
    }
    fn host_version(&self) -> RString {
        self.0.host_version().into()
    }
}

pub(crate) fn context_box(services: Arc<dyn HostServices>) -> HostContextBox {
    FfiHostContext_TO::from_value(LocalHostContext(services), TD_Opaque)
}

fn level_code(level: LogLevel) -> u8 {
    match level {
        LogLevel::Error => 0,
        LogLevel::Warn => 1,
        LogLevel::Info => 2,
        LogLevel::Debug => 3,
        LogLevel::Trace => 4,
    }
}

fn level_from_code(code: u8) -> LogLevel {
    match code {
        0 => LogLevel::Error,
        1 => LogLevel::Warn,
        2 => LogLevel::Info,
        3 => LogLevel::Debug,
        _ => LogLevel::Trace,
    }
}

static PLUGIN_HOST: OnceLock<Arc<dyn HostServices>> = OnceLock::new();

pub(crate) fn set_plugin_host(services: Arc<dyn HostServices>) {
    let _ = PLUGIN_HOST.set(services);
}

/// Inside a loaded plugin: the host's logging and progress, available from `on_startup` on.
/// `None` when the backend runs in-process without the FFI layer (tests, built-in use); use
/// [`crate::InstanceContext::services`] where you have one.
pub fn plugin_host() -> Option<Arc<dyn HostServices>> {
    PLUGIN_HOST.get().cloned()
}
