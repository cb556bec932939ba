//! A host after creation: start (or restore from a snapshot), stop, rename, destroy.

use crate::discovery::host_id_label;
use crate::instance::{DockerInstance, not_found};
use crate::pending::{Operation, Pending};
use crate::record::StoredHost;
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum};
use bollard::query_parameters::StopContainerOptions;
use mngr_plugin_api::*;
use mngr_provider_kit::record::name_taken_by_another;
use mngr_provider_kit::{keys, snapshots};

impl DockerInstance {
    pub(crate) async fn start(
        &self,
        host: &HostId,
        snapshot: Option<&str>,
    ) -> ProviderResult<HostRecord> {
        let (mut h, container) = self.find(host.as_str()).await?;
        if let Some(reason) = &h.certified_host_data.failure_reason {
            return Err(ProviderError::invalid_input(format!(
                "host {host} failed during creation and cannot be started: {reason}"
            )));
        }
        let restore = match snapshot {
            Some(wanted) => Some(self.resolve_snapshot(wanted, Some(&h)).await?),
            None if container.is_none() => {
                match snapshots::newest(&h.certified_host_data.snapshots) {
                    Some(newest) => Some(newest.clone()),
                    None => {
                        return Err(ProviderError::not_found(format!(
                        "the container of host {host} is gone and it has no snapshots to start from"
                    ))
                    .with_hint("destroy it and create a new host"));
                    }
                }
            }
            None => None,
        };
        if let Some(snap) = restore {
            self.services.progress(&format!(
                "starting host {} from snapshot {}",
                h.name(),
                snap.name
            ));
            if let Some(c) = container.as_ref().and_then(|c| c.id.clone()) {
                self.remove_container(&c).await?;
            }
            if let Some(old) = h.extra.config.as_ref().and_then(|c| c.built_image.clone()) {
                self.remove_image(&old, false).await.ok();
            }
            let tag = self.hold_image(&snap.id, h.host_id()).await?;
            if let Some(config) = h.extra.config.as_mut() {
                config.built_image = Some(tag.clone());
            }
            self.save(&mut h).await?;
            self.run_container(&mut h, &tag, false).await?;
        } else {
            let c = container.expect("checked above");
            let id = c.id.clone().unwrap_or_default();
            if c.state != Some(ContainerSummaryStateEnum::RUNNING) {
                self.engine.start_container(&id).await?;
            }
            h.ssh_port = Some(self.answering_ssh_port(&id).await?);
        }
        h.certified_host_data.stop_reason = None;
        self.save(&mut h).await?;
        let c = self.container_of(&h).await?;
        Ok(self.to_record(&h, c.as_ref()))
    }

    pub(crate) async fn stop(&self, host: &HostId) -> ProviderResult<()> {
        let (mut h, container) = self.find(host.as_str()).await?;
        if let Some(id) = container.and_then(|c| c.id) {
            let options = StopContainerOptions {
                t: Some(10),
                ..Default::default()
            };
            match self.engine.docker.stop_container(&id, Some(options)).await {
                Ok(()) => {}
                Err(e) => {
                    let err = self.engine.error("stopping the container", e);
                    if err.kind == ErrorKind::Unavailable {
                        return Err(err);
                    }
                }
            }
        }
        h.certified_host_data.stop_reason = Some(StopReason::Stopped);
        self.save(&mut h).await
    }

    pub(crate) async fn rename(
        &self,
        host: &HostId,
        new_name: &HostName,
    ) -> ProviderResult<HostRecord> {
        let all = self.load().await?;
        if name_taken_by_another(all.iter().map(|(h, _)| h), host, new_name.as_str()) {
            return Err(ProviderError::already_exists(format!(
                "a docker host named '{new_name}' already exists"
            )));
        }
        let (mut h, c) = all
            .into_iter()
            .find(|(h, _)| h.host_id() == host.as_str())
            .ok_or_else(|| not_found(host.as_str()))?;
        h.certified_host_data.host_name = new_name.to_string();
        self.save(&mut h).await?;
        Ok(self.to_record(&h, c.as_ref()))
    }

    /// Destroy a host, resumably: it is marked as being destroyed first (a host known only
    /// by its container gets a record so marked, when the state volume is there to hold it),
    /// then its containers, images and key go, and its record last, so whatever a killed
    /// destroy leaves is still listed as abandoned (see abandoned.rs) for gc to finish. A host
    /// of which nothing is left is `NotFound`.
    pub(crate) async fn destroy(&self, host: &HostId) -> ProviderResult<()> {
        let mut found = match self.find(host.as_str()).await {
            Ok((h, _)) => Some(h),
            Err(e) if e.kind == ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        // Containers by label, so one whose record is gone is removed too.
        let containers: Vec<ContainerSummary> = self
            .host_containers()
            .await?
            .into_iter()
            .filter(|c| host_id_label(c) == Some(host.as_str()))
            .collect();
        let images = self.images_of(host.as_str()).await?;
        let key = keys::host_key_dir(&self.state_dir, host.as_str());
        if found.is_none() && containers.is_empty() && images.is_empty() && !key.exists() {
            return Err(ProviderError::not_found(format!(
                "docker host {host} is already gone"
            )));
        }
        if found.is_none()
            && let Some(c) = containers.first()
            && self.store.ensure(false).await?
        {
            found = self.host_of_container(c);
        }
        if let Some(h) = found.as_mut() {
            h.extra.pending = Some(Pending::now(Operation::Destroying));
            self.save(h).await?;
        }
        let mut problems = Vec::new();
        for id in containers.iter().filter_map(|c| c.id.as_deref()) {
            if let Err(e) = self.remove_container(id).await {
                problems.push(format!("container {id}: {}", e.message));
            }
        }
        if let Some(h) = &found {
            let mut tags: Vec<String> = h
                .certified_host_data
                .snapshots
                .iter()
                .map(|s| self.snapshot_tag(h.host_id(), &s.name))
                .collect();
            if let Some(built) = h.extra.config.as_ref().and_then(|c| c.built_image.clone()) {
                tags.push(built);
            }
            for tag in tags {
                if let Err(e) = self.remove_image(&tag, false).await {
                    problems.push(format!("image {tag}: {}", e.message));
                }
            }
        }
        // Anything else labelled for this host that no tag holds any more (a build whose
        // record was lost, say).
        for image in images {
            let held = self.engine.image_is_tagged(&image).await.unwrap_or(true);
            if !held && let Err(e) = self.remove_image(&image, false).await {
                problems.push(format!("image {image}: {}", e.message));
            }
        }
        if let Err(e) = keys::remove_local(&self.state_dir, host.as_str()) {
            problems.push(format!("local keys: {e}"));
        }
        if !problems.is_empty() {
            // The record stays, marked, so a later destroy or gc can finish.
            return Err(ProviderError::new(
                ErrorKind::CleanupFailed,
                format!(
                    "destroying host {host} left resources behind: {}",
                    problems.join("; ")
                ),
            )
            .with_details(serde_json::json!({ "remaining": problems })));
        }
        self.cache.forget(host.as_str());
        let record_gone = match found {
            Some(_) => self.remove_record(host).await,
            None => self.remove_store_if_empty().await,
        };
        record_gone.map_err(|e| {
            ProviderError::new(
                ErrorKind::CleanupFailed,
                format!(
                    "destroying host {host} left the state container: {}",
                    e.message
                ),
            )
        })
    }

    /// Remove a destroyed host's record. When it was the instance's last host, the state
    /// container and volume go instead and the record with them: until the volume is gone
    /// the record says the destroy is unfinished.
    async fn remove_record(&self, host: &HostId) -> ProviderResult<()> {
        let others = self
            .store
            .read_hosts::<StoredHost>()
            .await?
            .iter()
            .any(|h| h.host_id() != host.as_str())
            || !self.host_containers().await?.is_empty();
        if !others && self.remove_store().await? {
            return Ok(());
        }
        self.store.delete_host(host.as_str()).await?;
        self.remove_store_if_empty().await
    }

    /// The state container and volume go with the instance's last host, so a destroyed last
    /// host leaves nothing on the daemon. Other mngr processes may be creating or destroying
    /// hosts at the same moment: the records are read after this process's own changes (so
    /// of several destroys at once the last always sees the store empty), and the volume is
    /// kept when a host appeared meanwhile.
    pub(crate) async fn remove_store_if_empty(&self) -> ProviderResult<()> {
        if !self.store.ensure(false).await?
            || !self.store.read_hosts::<StoredHost>().await?.is_empty()
            || !self.host_containers().await?.is_empty()
        {
            return Ok(());
        }
        self.remove_store().await.map(|_| ())
    }

    /// Remove the state container, then, unless a host container appeared meanwhile, the
    /// volume. `false` when the store stays: another mngr is removing it (the rest is
    /// theirs), or a create started in between (its record is on the volume: it gets its
    /// server back).
    async fn remove_store(&self) -> ProviderResult<bool> {
        if !self.store.remove_container().await? {
            return Ok(false);
        }
        if !self.host_containers().await?.is_empty() {
            self.store.ensure(true).await?;
            return Ok(false);
        }
        self.store.remove_volume().await?;
        let _ = std::fs::remove_dir(self.state_dir.join("keys"));
        Ok(true)
    }
}
