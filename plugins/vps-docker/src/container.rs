//! The host's container on its VPS: how it is run (sshd published on the VPS's public
//! address), the files it gets before it first starts, and its record on the state volume.

use crate::client::VpsClient;
use crate::instance::VpsDockerInstance;
use crate::machine::Machine;
use crate::record::StoredHost;
use bollard::models::{ContainerCreateBody, PortBinding};
use mngr_docker_core::host_container::{
    HostContainer, container_body as container_body_of, host_files_tar,
};
use mngr_plugin_api::*;

/// The `docker run` of a host's container: its start args, mngr's labels, PID 1, and port 22
/// published on every address of the VPS at the configured port (2222).
pub(crate) fn container_body<C: VpsClient>(
    instance: &VpsDockerInstance<C>,
    h: &StoredHost,
) -> ProviderResult<ContainerCreateBody> {
    let settings = h
        .extra
        .container
        .clone()
        .ok_or_else(|| ProviderError::internal("host record has no container settings"))?;
    container_body_of(HostContainer {
        start_args: &settings.start_args,
        image: &settings.image,
        host_dir: &settings.host_dir,
        host_id: h.host_id(),
        host_name: h.name(),
        provider: &instance.name,
        tags: &h.certified_host_data.user_tags,
        pending: None,
        ssh_publish: PortBinding {
            host_ip: Some("0.0.0.0".into()),
            host_port: Some(instance.settings.container_ssh_port.to_string()),
        },
    })
}

impl<C: VpsClient> VpsDockerInstance<C> {
    /// The kit's files for the container (its host key, mngr's key, the idle watcher that
    /// stops the container, not the VPS), as a tar to unpack at its `/`.
    pub(crate) fn provisioning_files(&self, h: &StoredHost) -> ProviderResult<Vec<u8>> {
        let host_dir = h
            .extra
            .container
            .as_ref()
            .map(|c| c.host_dir.clone())
            .unwrap_or_else(|| self.settings.host_dir.clone());
        host_files_tar(h, &host_dir, &self.prefix)
    }

    /// Create the host's container from its settings, write the record, inject the kit's
    /// files, start it and wait for its sshd at `address`. Returns the container id, which
    /// `made` also gets as soon as the container exists (for an undo).
    pub(crate) async fn run_container(
        &self,
        m: &Machine,
        h: &mut StoredHost,
        address: &str,
        made: &mut Option<String>,
    ) -> ProviderResult<String> {
        let body = container_body(self, h)?;
        let container = m
            .engine
            .create_container(&self.container_name(h.name()), body)
            .await?;
        *made = Some(container.clone());
        h.extra.container_id = Some(container.clone());
        self.save(m, h).await?;
        let files = self.provisioning_files(h)?;
        m.engine
            .upload_tar("injecting keys into the container", &container, files)
            .await?;
        m.engine.start_container(&container).await?;
        let waited = std::time::Instant::now();
        mngr_provider_kit::access::wait_for_sshd(address, self.settings.container_ssh_port).await?;
        m.engine.timing("waiting for the container's sshd", waited);
        Ok(container)
    }

    /// Write a host's record to its VPS's state volume.
    pub(crate) async fn save(&self, m: &Machine, h: &mut StoredHost) -> ProviderResult<()> {
        h.touch();
        m.store.write_host(h.host_id(), h).await
    }
}
