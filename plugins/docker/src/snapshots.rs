//! Snapshots: committed images of a host's container, recorded with the host (naming and
//! lookup are the kit's).

use crate::instance::DockerInstance;
use crate::record::{HostSnapshot, StoredHost};
use bollard::query_parameters::CommitContainerOptions;
use mngr_docker_core::labels;
use mngr_docker_core::run_args::parse_run_args;
use mngr_plugin_api::*;
use mngr_provider_kit::snapshots;

impl DockerInstance {
    /// Where a host's snapshot is tagged, as (repository, tag), which the commit call takes apart.
    fn snapshot_ref(&self, host_id: &str, name: &str) -> (String, String) {
        (self.image_repo("snapshot"), format!("{host_id}-{name}"))
    }

    /// The tag a host holds its snapshot by; other hosts made from it hold their own.
    pub(crate) fn snapshot_tag(&self, host_id: &str, name: &str) -> String {
        let (repo, tag) = self.snapshot_ref(host_id, name);
        format!("{repo}:{tag}")
    }

    /// Find a snapshot image by id, id prefix, or name, across this instance's hosts.
    pub(crate) async fn resolve_snapshot(
        &self,
        wanted: &str,
        only_host: Option<&StoredHost>,
    ) -> ProviderResult<HostSnapshot> {
        let hosts: Vec<StoredHost> = match only_host {
            Some(h) => vec![h.clone()],
            None => self.load().await?.into_iter().map(|(h, _)| h).collect(),
        };
        snapshots::resolve(
            wanted,
            hosts.iter().flat_map(|h| &h.certified_host_data.snapshots),
        )
    }

    pub(crate) async fn snapshot(
        &self,
        host: &HostId,
        name: Option<&str>,
    ) -> ProviderResult<SnapshotInfo> {
        let (mut h, container) = self.find(host.as_str()).await?;
        let container = container.and_then(|c| c.id).ok_or_else(|| {
            ProviderError::not_found(format!("host {host} has no container to snapshot"))
        })?;
        let name = snapshots::new_name(name, h.name(), &h.certified_host_data.snapshots)?;
        let has_volumes = h
            .extra
            .config
            .as_ref()
            .map(|c| {
                parse_run_args(&c.start_args)
                    .map(|r| r.has_volumes)
                    .unwrap_or(false)
            })
            .unwrap_or(false);
        if has_volumes {
            self.services.log(LogLevel::Warn, "volume mounts (-v/--mount) are not captured in snapshots; only the container's own filesystem is");
        }
        let (repo, tag) = self.snapshot_ref(h.host_id(), &name);
        let options = CommitContainerOptions {
            container: Some(container.clone()),
            repo: Some(repo),
            tag: Some(tag),
            pause: true,
            changes: Some(format!(
                "LABEL {}={}\nLABEL {}={}",
                labels::IMAGE_PROVIDER,
                self.name,
                labels::IMAGE_HOST,
                h.host_id()
            )),
            ..Default::default()
        };
        let committed = self
            .engine
            .call(
                "committing the container",
                self.engine
                    .docker
                    .commit_container(options, bollard::models::ContainerConfig::default()),
            )
            .await?;
        let snap = HostSnapshot::new(
            committed.id,
            name,
            mngr_plugin_api::time::now_iso8601_utc_micros(),
        );
        h.certified_host_data.snapshots.push(snap.clone());
        if let Err(e) = self.save(&mut h).await {
            self.remove_image(&snap.id, true).await.ok();
            return Err(e);
        }
        Ok(snapshots::info(&snap))
    }

    /// A host's snapshots, newest first.
    pub(crate) async fn snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let (h, _) = self.find(host.as_str()).await?;
        Ok(snapshots::newest_first(&h.certified_host_data.snapshots))
    }

    pub(crate) async fn delete_snap(&self, host: &HostId, wanted: &str) -> ProviderResult<()> {
        let (mut h, _) = self.find(host.as_str()).await?;
        let snap = self.resolve_snapshot(wanted, Some(&h)).await?;
        // By tag: an image another host was created from keeps that host's own tag.
        let tag = self.snapshot_tag(h.host_id(), &snap.name);
        let removed = self
            .engine
            .remove_image("removing the snapshot image", &tag, false)
            .await;
        match removed {
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                return Err(ProviderError::invalid_input(format!(
                    "snapshot '{}' is in use by a container that mngr did not start from it",
                    snap.name
                )));
            }
            other => other?,
        }
        h.certified_host_data.snapshots.retain(|s| s.id != snap.id);
        self.save(&mut h).await
    }
}
