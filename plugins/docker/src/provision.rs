//! The files a container gets before it starts (see the kit's `provision.rs`), as one tar.

use crate::instance::DockerInstance;
use crate::record::StoredHost;
use mngr_docker_core::host_container::host_files_tar;
use mngr_plugin_api::*;

impl DockerInstance {
    /// A tar to unpack at the container's `/`.
    pub(crate) fn provisioning_tar(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        host_files_tar(h, &self.host_dir_of(h), &self.prefix)
    }
}
