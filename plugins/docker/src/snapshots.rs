//! Snapshots: committed images of a host's container, recorded with the host.

use crate::instance::DockerInstance;
use crate::labels;
use crate::record::{HostSnapshot, StoredHost};
use crate::run_args::parse_run_args;
use bollard::query_parameters::CommitContainerOptions;
use mngr_plugin_api::*;

fn snapshot_info(s: &HostSnapshot) -> SnapshotInfo {
    SnapshotInfo::new(s.id.clone(), s.name.clone(), s.created_at.clone())
}

fn valid_snapshot_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 60
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
}

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
        let short = wanted.trim_start_matches("sha256:");
        for h in &hosts {
            for s in &h.certified_host_data.snapshots {
                let id = s.id.trim_start_matches("sha256:");
                if s.id == wanted || s.name == wanted || (short.len() >= 6 && id.starts_with(short))
                {
                    return Ok(s.clone());
                }
            }
        }
        Err(ProviderError::not_found(format!("no snapshot '{wanted}'"))
            .with_hint("list snapshots with: mngr snapshot list AGENT"))
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
        let name = name.map(str::to_string).unwrap_or_else(|| {
            format!(
                "snapshot-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        });
        if !valid_snapshot_name(&name) {
            return Err(ProviderError::invalid_input(format!(
                "invalid snapshot name '{name}': use up to 60 letters, digits, '-', '_' or '.', starting with a letter or digit"
            )));
        }
        if h.certified_host_data
            .snapshots
            .iter()
            .any(|s| s.name == name)
        {
            return Err(ProviderError::already_exists(format!(
                "host {} already has a snapshot named '{name}'",
                h.name()
            )));
        }
        let has_volumes = h
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
        Ok(snapshot_info(&snap))
    }

    /// A host's snapshots, newest first.
    pub(crate) async fn snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let (h, _) = self.find(host.as_str()).await?;
        let mut list: Vec<SnapshotInfo> = h
            .certified_host_data
            .snapshots
            .iter()
            .map(snapshot_info)
            .collect();
        list.sort_by(|a, b| b.created_at.cmp(&a.created_at));
        Ok(list)
    }

    pub(crate) async fn delete_snap(&self, host: &HostId, wanted: &str) -> ProviderResult<()> {
        let (mut h, _) = self.find(host.as_str()).await?;
        let snap = self.resolve_snapshot(wanted, Some(&h)).await?;
        // By tag: an image another host was created from keeps that host's own tag.
        let tag = self.snapshot_tag(h.host_id(), &snap.name);
        let removed = self
            .remove_image_as("removing the snapshot image", &tag, false)
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
