//! The host's services seen from inside a plugin, and a plugin-wide handle to them.

use super::abi::{HostContextBox, log_level_code};
use crate::provider::{HostServices, LogLevel};
use abi_stable::std_types::RStr;
use std::sync::{Arc, OnceLock};

/// Implements [`HostServices`] by calling back into the host through the context object.
pub(crate) struct RemoteHostServices(pub(crate) HostContextBox);

impl HostServices for RemoteHostServices {
    fn log(&self, level: LogLevel, message: &str) {
        self.0.log(log_level_code(level), RStr::from_str(message));
    }
    fn progress(&self, message: &str) {
        self.0.progress(RStr::from_str(message));
    }
    fn host_version(&self) -> String {
        self.0.host_version().into()
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
