//! Snapshots: committed images of a host's container, kept on its VPS's Docker and recorded
//! with the host (naming and lookup are the kit's). They go with the VPS on destroy.

use crate::client::VpsClient;
use crate::instance::{ContainerState, VpsDockerInstance};
use crate::record::StoredHost;
use bollard::query_parameters::CommitContainerOptions;
use mngr_plugin_api::*;
use mngr_provider_kit::record::HostSnapshot;
use mngr_provider_kit::snapshots;

const SNAPSHOT_REPO: &str = "mngr-snapshot";
/// The image a host restored from a snapshot runs from.
const HELD_REPO: &str = "mngr-restored";

/// The tag a host's snapshot is held by on its VPS.
fn snapshot_tag(h: &StoredHost, name: &str) -> String {
    format!("{SNAPSHOT_REPO}:{}-{name}", h.host_id())
}

impl<C: VpsClient> VpsDockerInstance<C> {
    pub(crate) async fn snapshot(
        &self,
        host: &HostId,
        name: Option<&str>,
    ) -> ProviderResult<SnapshotInfo> {
        let (seen, mut h) = self.stored(host).await?;
        let m = self.machine_of(&seen).await?;
        let container = h.extra.container_id.clone().ok_or_else(|| {
            ProviderError::not_found(format!("host {host} has no container to snapshot"))
        })?;
        let name = snapshots::new_name(name, h.name(), &h.certified_host_data.snapshots)?;
        let tag = snapshot_tag(&h, &name);
        let (repo, tag_part) = tag.split_once(':').expect("repo:tag");
        let options = CommitContainerOptions {
            container: Some(container),
            repo: Some(repo.to_string()),
            tag: Some(tag_part.to_string()),
            pause: true,
            ..Default::default()
        };
        let committed = m
            .engine
            .call(
                "committing the container",
                m.engine
                    .docker
                    .commit_container(options, bollard::models::ContainerConfig::default()),
            )
            .await?;
        let snap = HostSnapshot::new(committed.id, name, time::now_iso8601_utc_micros());
        h.certified_host_data.snapshots.push(snap.clone());
        if let Err(e) = self.save(&m, &mut h).await {
            m.engine
                .remove_image("removing the snapshot", &tag, true)
                .await
                .ok();
            return Err(e);
        }
        self.forget(host.as_str());
        Ok(snapshots::info(&snap))
    }

    pub(crate) async fn snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let (_, h) = self.stored(host).await?;
        Ok(snapshots::newest_first(&h.certified_host_data.snapshots))
    }

    pub(crate) async fn delete_snap(&self, host: &HostId, wanted: &str) -> ProviderResult<()> {
        let (seen, mut h) = self.stored(host).await?;
        let m = self.machine_of(&seen).await?;
        let snap = snapshots::resolve(wanted, h.certified_host_data.snapshots.iter())?.clone();
        let tag = snapshot_tag(&h, &snap.name);
        m.engine
            .remove_image("removing the snapshot", &tag, false)
            .await?;
        h.certified_host_data.snapshots.retain(|s| s.id != snap.id);
        self.save(&m, &mut h).await?;
        self.forget(host.as_str());
        Ok(())
    }

    /// Replace the host's container with a new one from a snapshot (same keys, settings and
    /// address; the VPS stays).
    pub(crate) async fn restore(&self, host: &HostId, wanted: &str) -> ProviderResult<HostRecord> {
        let (mut seen, mut h) = self.stored(host).await?;
        let m = self.machine_of(&seen).await?;
        let snap = snapshots::resolve(wanted, h.certified_host_data.snapshots.iter())?.clone();
        self.services.progress(&format!(
            "starting host {} from snapshot {}",
            h.name(),
            snap.name
        ));
        if let Some(old) = h.extra.container_id.take() {
            m.engine
                .remove_container("removing the container", &old)
                .await?;
        }
        // The container runs from a tag of its own, so the snapshot can be deleted later.
        let held = format!("{HELD_REPO}:{}", h.host_id());
        m.engine.tag_image(&snap.id, &held).await?;
        if let Some(settings) = h.extra.container.as_mut() {
            settings.image = held;
        }
        let address = seen.instance.main_ip.clone().unwrap_or_default();
        let mut made = None;
        self.run_container(&m, &mut h, &address, &mut made).await?;
        h.certified_host_data.stop_reason = None;
        self.save(&m, &mut h).await?;
        seen.container = Some(ContainerState {
            running: true,
            exit_code: None,
        });
        seen.stored = Some(h);
        self.remember(seen.clone());
        Ok(self.to_record(&seen))
    }
}
