//! Host containers: run one (create, provision, start, wait for sshd).

use crate::instance::DockerInstance;
use crate::record::StoredHost;
use bollard::models::PortBinding;
use mngr_docker_core::containers::published_ssh_port;
use mngr_docker_core::host_container::{self, HostContainer};
use mngr_plugin_api::*;
use mngr_provider_kit::access::wait_for_sshd;
use std::time::Instant;

impl DockerInstance {
    /// The published SSH port of a started container, once its sshd answers there.
    pub(crate) async fn answering_ssh_port(&self, container: &str) -> ProviderResult<u16> {
        let port = published_ssh_port(&self.engine.inspect_container(container).await?, container)?;
        let waited = Instant::now();
        wait_for_sshd(&self.config.ssh_address(), port).await?;
        self.engine.timing("waiting for sshd", waited);
        Ok(port)
    }

    /// Create the container for `h` from `image`, inject its files, start it, wait for sshd.
    /// Returns the container id. On failure the container is removed.
    pub(crate) async fn run_container(
        &self,
        h: &mut StoredHost,
        image: &str,
        save_record: bool,
    ) -> ProviderResult<String> {
        let settings = h
            .extra
            .config
            .clone()
            .ok_or_else(|| ProviderError::internal("host record has no container settings"))?;
        let body = host_container::container_body(HostContainer {
            start_args: &settings.start_args,
            image,
            host_dir: &settings.host_dir,
            host_id: h.host_id(),
            host_name: h.name(),
            provider: &self.name,
            tags: &h.certified_host_data.user_tags,
            pending: h
                .extra
                .pending
                .as_ref()
                .map(|p| serde_json::to_string(p).expect("pending serializes")),
            ssh_publish: PortBinding {
                host_ip: Some(self.config.publish_address()),
                host_port: Some(String::new()),
            },
        })?;
        let started = Instant::now();
        let name = self.container_name(h.name());
        let id = self
            .engine
            .create_container(&name, body)
            .await
            .map_err(|e| match e.kind {
                ErrorKind::AlreadyExists => ProviderError::already_exists(format!(
                    "a container named '{name}' already exists on the Docker daemon"
                ))
                .with_hint(format!(
                    "choose another name; if it is left by an interrupted mngr command, `mngr gc` removes it (`mngr list --hosts` shows it as abandoned), otherwise remove it with docker rm -f {name}"
                )),
                ErrorKind::InvalidInput | ErrorKind::Internal => ProviderError::invalid_input(
                    format!("Docker refused to create the container: {}", e.message),
                ),
                _ => e,
            })?;
        h.extra.container_id = Some(id.clone());
        h.ssh_host = Some(self.config.ssh_address());
        // The record is written while the container starts (the SSH port in it is only a
        // hint; mngr always asks the daemon for the live one).
        let mut record = h.clone();
        let record_write = async {
            if save_record {
                self.store.ensure(true).await?;
                self.save(&mut record).await
            } else {
                Ok(())
            }
        };
        let tar = self.provisioning_tar(h);
        let bring_up = async {
            self.engine
                .upload_tar("injecting keys into the container", &id, tar?)
                .await?;
            self.engine.start_container(&id).await.map_err(|e| {
                if e.kind == ErrorKind::Unavailable {
                    e
                } else {
                    ProviderError::invalid_input(format!(
                        "Docker could not start the container: {}",
                        e.message
                    ))
                }
            })?;
            self.engine
                .timing("creating, provisioning and starting the container", started);
            self.answering_ssh_port(&id).await
        };
        let (written, port) = tokio::join!(record_write, bring_up);
        match (written, port) {
            (Ok(()), Ok(port)) => {
                h.ssh_port = Some(port);
                h.certified_host_data.updated_at = record.certified_host_data.updated_at;
                Ok(id)
            }
            (Err(e), _) | (_, Err(e)) => {
                self.remove_container(&id).await.ok();
                Err(e)
            }
        }
    }

    /// Remove a container and its anonymous volumes, running or not; absent is fine.
    pub(crate) async fn remove_container(&self, id: &str) -> ProviderResult<()> {
        self.engine
            .remove_container("removing the container", id)
            .await
    }
}
