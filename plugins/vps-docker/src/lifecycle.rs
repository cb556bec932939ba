//! A host after creation: reach it, stop and start its container (the VPS keeps running),
//! destroy it with its VPS.

use crate::client::VpsClient;
use crate::discovery::container_state;
use crate::instance::VpsDockerInstance;
use mngr_plugin_api::*;
use mngr_provider_kit::access::{SshTarget, ssh_access, wait_for_sshd};
use mngr_provider_kit::keys;

impl<C: VpsClient> VpsDockerInstance<C> {
    pub(crate) async fn access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let (seen, h) = self.stored_as_seen(host).await?;
        if !seen.container.is_some_and(|c| c.running) {
            return Err(
                ProviderError::unavailable(format!("host '{}' is not running", h.name()))
                    .with_hint(format!("start it with: mngr start {}", h.name())),
            );
        }
        let target = SshTarget {
            address: seen.instance.main_ip.clone().unwrap_or_default(),
            port: self.settings.container_ssh_port,
            user: "root".into(),
            host_dir: self.to_record(&seen).host_dir,
            direct_routes: Vec::new(),
        };
        ssh_access(&self.state_dir, &h, target)
    }

    /// `docker stop` the container; the VPS keeps running (and billing).
    pub(crate) async fn stop(&self, host: &HostId) -> ProviderResult<()> {
        let (seen, mut h) = self.stored(host).await?;
        let m = self.machine_of(&seen).await?;
        if let Some(id) = &h.extra.container_id {
            let options = bollard::query_parameters::StopContainerOptions {
                t: Some(10),
                ..Default::default()
            };
            m.engine
                .unless_gone(
                    "stopping the container",
                    m.engine.docker.stop_container(id, Some(options)),
                )
                .await?;
        }
        h.certified_host_data.stop_reason = Some(StopReason::Stopped);
        self.save(&m, &mut h).await?;
        self.forget(host.as_str());
        Ok(())
    }

    /// `docker start` the container and wait for its sshd.
    pub(crate) async fn start(&self, host: &HostId) -> ProviderResult<HostRecord> {
        let (mut seen, mut h) = self.stored(host).await?;
        let m = self.machine_of(&seen).await?;
        let id = h.extra.container_id.clone().ok_or_else(|| {
            ProviderError::not_found(format!("host {host} has no container on its VPS"))
        })?;
        if !seen.container.is_some_and(|c| c.running) {
            m.engine.start_container(&id).await?;
        }
        let address = seen.instance.main_ip.clone().unwrap_or_default();
        wait_for_sshd(&address, self.settings.container_ssh_port).await?;
        h.certified_host_data.stop_reason = None;
        self.save(&m, &mut h).await?;
        seen.container = container_state(&m, &id).await?;
        seen.stored = Some(h);
        self.remember(seen.clone());
        Ok(self.to_record(&seen))
    }

    /// Remove the container, its record and the state store on the VPS, then the VPS, its
    /// registered key and this machine's key files. A host whose VPS cannot be reached is
    /// still destroyed: the VPS goes with everything on it.
    /// Marked first (see pending.rs): a destroy killed midway is listed as abandoned and
    /// `mngr gc` finishes it.
    pub(crate) async fn destroy(&self, host: &HostId) -> ProviderResult<()> {
        let seen = self.find(host.as_str()).await?;
        crate::pending::Creating::destroying(self.host_name_of(&seen))
            .write(&self.state_dir, host.as_str())?;
        if let Some(h) = &seen.stored
            && let Ok(m) = self.machine_of(&seen).await
        {
            if let Some(id) = &h.extra.container_id {
                m.engine
                    .remove_container("removing the container", id)
                    .await
                    .ok();
            }
            m.store.delete_host(h.host_id()).await.ok();
        }
        self.forget_machine(host.as_str()).await;
        if !seen.instance.id.is_empty() {
            self.client.destroy_instance(&seen.instance.id).await?;
        }
        let key_id = seen
            .stored
            .as_ref()
            .and_then(|h| h.extra.vps.as_ref())
            .and_then(|v| v.ssh_key_id.clone());
        let key_ids = match key_id {
            Some(id) => vec![id],
            None => {
                self.client
                    .find_ssh_keys(&format!("{}{}", self.prefix, host.as_str()))
                    .await?
            }
        };
        for id in key_ids {
            self.client.delete_ssh_key(&id).await?;
        }
        self.forget(host.as_str());
        keys::remove_local(&self.state_dir, host.as_str()).map_err(|e| {
            ProviderError::new(
                ErrorKind::CleanupFailed,
                format!("host {host} is destroyed, but its local key files remain: {e}"),
            )
        })
    }
}
