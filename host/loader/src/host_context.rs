//! The host's own [`HostServices`] as the context object a plugin calls back into.

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RStr, RString};
use mngr_plugin_api::HostServices;
use mngr_plugin_api::ffi::abi::{
    FfiHostContext, FfiHostContext_TO, HostContextBox, log_level_from_code,
};
use std::sync::Arc;

struct LocalHostContext(Arc<dyn HostServices>);

impl FfiHostContext for LocalHostContext {
    fn log(&self, level: u8, message: RStr<'_>) {
        self.0.log(log_level_from_code(level), message.as_str());
    }
    fn progress(&self, message: RStr<'_>) {
        self.0.progress(message.as_str());
    }
    fn host_version(&self) -> RString {
        self.0.host_version().into()
    }
}

/// Hand `services` to a plugin (its `on_startup`, or a backend's `build_instance`).
pub(crate) fn context_box(services: Arc<dyn HostServices>) -> HostContextBox {
    FfiHostContext_TO::from_value(LocalHostContext(services), TD_Opaque)
}
