//! How to reach a running host: its SSH endpoint, pinned host key and direct routes.

use crate::containers::published_ssh_port;
use crate::instance::{DockerInstance, not_found};
use crate::keys;
use bollard::models::ContainerInspectResponse;
use mngr_plugin_api::*;

impl DockerInstance {
    pub(crate) async fn access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let h = self.stored(host).await?;
        let container = h
            .container_id
            .clone()
            .ok_or_else(|| not_found(host.as_str()))?;
        let info = self.inspect(&container).await?;
        let running = info.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        if !running {
            return Err(ProviderError::new(
                ErrorKind::Unavailable,
                format!("host '{}' is not running", h.name()),
            )
            .with_hint(format!("start it with: mngr start {}", h.name())));
        }
        let direct_routes = self.direct_routes(&info);
        let port = published_ssh_port(&info, &container)?;
        let key_path =
            keys::materialize(&self.state_dir, h.host_id(), &h.keys()?.client_private_key)?;
        Ok(HostAccess::Ssh(
            SshEndpoint::new(
                self.config.ssh_address(),
                port,
                "root",
                key_path.to_string_lossy(),
                h.ssh_host_public_key.clone().unwrap_or_default(),
                self.host_dir_of(&h),
            )
            .with_direct_routes(direct_routes),
        ))
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
