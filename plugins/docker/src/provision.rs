//! The files a container gets before it starts (see the kit's `provision.rs`), as one tar.

use crate::instance::DockerInstance;
use crate::record::StoredHost;
use mngr_docker_core::host_container::provisioning_tar;
use mngr_plugin_api::*;
use mngr_provider_kit::provision::{ProvisionPlan, provisioning_files};
use mngr_provider_kit::watcher::StopAction;

impl DockerInstance {
    /// A tar to unpack at the container's `/`.
    pub(crate) fn provisioning_tar(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        let host_dir = self.host_dir_of(h);
        let plan = ProvisionPlan {
            host_dir: &host_dir,
            login_home: "/root",
            session_prefix: &self.prefix,
            // PID 1 (see scripts.rs) exits with a code per signal, read back as the reason.
            stop: &StopAction::SignalInit,
        };
        provisioning_tar(&provisioning_files(h, &plan)?)
    }
}
