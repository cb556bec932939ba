//! Finding hosts again: containers by label, records on the state volume, this run's cache.

use crate::instance::{DockerInstance, not_found};
use crate::record::StoredHost;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use mngr_docker_core::labels;
use mngr_plugin_api::*;
use std::collections::HashMap;

/// The host a container was made for, by its label.
pub(crate) fn host_id_label(c: &ContainerSummary) -> Option<&str> {
    c.labels
        .as_ref()
        .and_then(|l| l.get(labels::HOST_ID))
        .map(String::as_str)
}

impl DockerInstance {
    /// This instance's host containers (any state).
    pub(crate) async fn host_containers(&self) -> ProviderResult<Vec<ContainerSummary>> {
        let options = ListContainersOptions {
            all: true,
            filters: Some(labels::filter(vec![
                format!("{}={}", labels::PROVIDER, self.name),
                labels::HOST_ID.to_string(),
            ])),
            ..Default::default()
        };
        let list = self
            .engine
            .call(
                "listing containers",
                self.engine.docker.list_containers(Some(options)),
            )
            .await?;
        let prefix = format!("/{}", self.prefix);
        Ok(list
            .into_iter()
            .filter(|c| c.names.iter().flatten().any(|n| n.starts_with(&prefix)))
            .collect())
    }

    /// All host records with their containers. Empty when nothing was ever created here.
    pub(crate) async fn load(&self) -> ProviderResult<Vec<(StoredHost, Option<ContainerSummary>)>> {
        Ok(self.load_with_orphans().await?.0)
    }

    /// All host records with their containers, and the host containers no record claims.
    /// Containers are listed before records are read: a create writes its record before it
    /// makes its container, so a container without a record here is truly orphaned.
    pub(crate) async fn load_with_orphans(
        &self,
    ) -> ProviderResult<(
        Vec<(StoredHost, Option<ContainerSummary>)>,
        Vec<ContainerSummary>,
    )> {
        let containers = self.host_containers().await?;
        if !self.store.ensure(false).await? {
            return Ok((Vec::new(), containers));
        }
        let (hosts, agents) = self.store.read_all::<StoredHost>().await?;
        self.agents.remember_all(agents);
        let mut by_id: HashMap<String, ContainerSummary> = HashMap::new();
        for c in containers {
            if let Some(id) = host_id_label(&c) {
                by_id.insert(id.to_string(), c);
            }
        }
        self.cache.remember_all(&hosts);
        let hosts = hosts
            .into_iter()
            .map(|h| {
                let c = by_id.remove(h.host_id());
                (h, c)
            })
            .collect();
        Ok((hosts, by_id.into_values().collect()))
    }

    pub(crate) async fn find(
        &self,
        id_or_name: &str,
    ) -> ProviderResult<(StoredHost, Option<ContainerSummary>)> {
        let all = self.load().await?;
        let mut by_name = None;
        for (h, c) in all {
            if h.host_id() == id_or_name {
                return Ok((h, c));
            }
            if h.name() == id_or_name {
                by_name = Some((h, c));
            }
        }
        by_name.ok_or_else(|| not_found(id_or_name))
    }

    /// A host's record, from this run's cache when possible.
    pub(crate) async fn stored(&self, host: &HostId) -> ProviderResult<StoredHost> {
        if let Some(h) = self.cache.get(host.as_str()) {
            return Ok(h);
        }
        Ok(self.find(host.as_str()).await?.0)
    }

    pub(crate) async fn save(&self, host: &mut StoredHost) -> ProviderResult<()> {
        host.touch();
        self.store.write_host(host.host_id(), host).await?;
        self.remember(host);
        Ok(())
    }

    /// Keep a record for the rest of this run, so later calls skip reading the volume.
    pub(crate) fn remember(&self, host: &StoredHost) {
        self.cache.remember(host);
    }

    /// The container of a host, found by its label.
    pub(crate) async fn container_of(
        &self,
        h: &StoredHost,
    ) -> ProviderResult<Option<ContainerSummary>> {
        let list = self.host_containers().await?;
        Ok(list
            .into_iter()
            .find(|c| host_id_label(c) == Some(h.host_id())))
    }
}
