//! How to reach a running host: its SSH endpoint, pinned host key and direct routes.

use crate::instance::{DockerInstance, not_found};
use bollard::models::ContainerInspectResponse;
use mngr_docker_core::containers::{is_running, published_ssh_port};
use mngr_plugin_api::*;
use mngr_provider_kit::access::{SshTarget, ssh_access};

impl DockerInstance {
    pub(crate) async fn access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let h = self.stored(host).await?;
        let container = h
            .extra
            .container_id
            .clone()
            .ok_or_else(|| not_found(host.as_str()))?;
        let info = self.engine.inspect_container(&container).await?;
        if !is_running(&info) {
            return Err(ProviderError::new(
                ErrorKind::Unavailable,
                format!("host '{}' is not running", h.name()),
            )
            .with_hint(format!("start it with: mngr start {}", h.name())));
        }
        let target = SshTarget {
            address: self.config.ssh_address(),
            port: published_ssh_port(&info, &container)?,
            user: "root".into(),
            host_dir: self.host_dir_of(&h),
            direct_routes: self.direct_routes(&info),
        };
        ssh_access(&self.state_dir, &h, target)
    }

    /// The container's own addresses on its networks, port 22, when this machine can reach
    /// them: a connection there skips Docker's port proxy, whose delayed ACKs meet sshd's
    /// Nagle and stall the first command of every connection by about 40 ms.
    fn direct_routes(&self, info: &ContainerInspectResponse) -> Vec<SshRoute> {
        if !self.config.direct_routes_possible() {
            return Vec::new();
        }
        let networks = info
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref());
        networks
            .into_iter()
            .flat_map(|n| n.values())
            .filter_map(|endpoint| endpoint.ip_address.clone())
            .filter(|ip| !ip.is_empty())
            .map(|address| SshRoute::new(address, 22))
            .collect()
    }
}
