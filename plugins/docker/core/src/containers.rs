//! Containers: inspect, create, start, upload files into, and the published SSH port.

use crate::engine::Engine;
use bollard::models::{ContainerCreateBody, ContainerInspectResponse};
use bollard::query_parameters::{CreateContainerOptions, UploadToContainerOptions};
use mngr_plugin_api::*;

/// The host port Docker published the container's sshd (port 22) on.
pub fn published_ssh_port(info: &ContainerInspectResponse, container: &str) -> ProviderResult<u16> {
    info.network_settings
        .as_ref()
        .and_then(|n| n.ports.as_ref())
        .and_then(|p| p.get("22/tcp"))
        .and_then(Option::as_ref)
        .and_then(|b| {
            b.iter()
                .find_map(|b| b.host_port.as_deref().and_then(|p| p.parse().ok()))
        })
        .ok_or_else(|| {
            ProviderError::internal(format!("container {container} has no published SSH port"))
        })
}

/// Whether an inspected container is running.
pub fn is_running(info: &ContainerInspectResponse) -> bool {
    info.state.as_ref().and_then(|s| s.running).unwrap_or(false)
}

impl Engine {
    pub async fn inspect_container(
        &self,
        container: &str,
    ) -> ProviderResult<ContainerInspectResponse> {
        self.call(
            "inspecting the container",
            self.docker.inspect_container(container, None),
        )
        .await
    }

    /// Create a container named `name`; returns its id.
    pub async fn create_container(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> ProviderResult<String> {
        let options = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        let created = self
            .call(
                "creating the container",
                self.docker.create_container(Some(options), body),
            )
            .await?;
        Ok(created.id)
    }

    pub async fn start_container(&self, id: &str) -> ProviderResult<()> {
        self.call(
            "starting the container",
            self.docker.start_container(id, None),
        )
        .await
    }

    /// Unpack a tar into a container's filesystem at `/` (it need not be running).
    pub async fn upload_tar(&self, what: &str, id: &str, tar: Vec<u8>) -> ProviderResult<()> {
        let upload = UploadToContainerOptions {
            path: "/".into(),
            ..Default::default()
        };
        self.call(
            what,
            self.docker
                .upload_to_container(id, Some(upload), bollard::body_full(tar.into())),
        )
        .await
    }
}
