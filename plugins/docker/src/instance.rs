//! A docker provider instance: the provider contract (as the kit's `AsyncProvider`, served
//! on the plugin's runtime by `OnRuntime`), delegating to the modules.

use crate::config::DockerConfig;
use crate::record::{ContainerPart, StoredHost};
use mngr_docker_core::{Engine, StateStore};
use mngr_plugin_api::*;
use mngr_provider_kit::adapter::{AsyncProvider, fixed_tags, machine_capabilities};
use mngr_provider_kit::agents::AgentRecords;
use mngr_provider_kit::cache::HostCache;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

const TAGS_IMMUTABLE: &str = "docker tags are immutable: they are stored as container labels, which Docker cannot change after the container is created";

pub struct DockerInstance {
    pub name: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    pub config: DockerConfig,
    pub engine: Engine,
    pub store: StateStore,
    pub services: Arc<dyn HostServices>,
    pub(crate) cache: HostCache<ContainerPart>,
    /// Persisted agent records, with this run's cache of them.
    pub(crate) agents: AgentRecords,
}

pub(crate) fn not_found(what: &str) -> ProviderError {
    ProviderError::not_found(format!("no docker host '{what}'"))
}

impl DockerInstance {
    pub fn new(ctx: InstanceContext, config: DockerConfig) -> ProviderResult<DockerInstance> {
        let engine = Engine::connect(
            &config.host,
            config.tls_cert_path.as_deref().map(std::path::Path::new),
            Some(ctx.services.clone()),
        )?;
        let store = StateStore::new(
            engine.clone(),
            &ctx.prefix,
            &ctx.instance_name,
            config.state_image(),
        );
        Ok(DockerInstance {
            name: ctx.instance_name,
            prefix: ctx.prefix,
            state_dir: ctx.state_dir,
            config,
            engine,
            store,
            services: ctx.services,
            cache: HostCache::default(),
            agents: AgentRecords::default(),
        })
    }

    pub(crate) fn container_name(&self, host_name: &str) -> String {
        format!("{}{host_name}", self.prefix)
    }

    /// An image repository of this instance: the prefix made into a valid repository name.
    pub(crate) fn image_repo(&self, kind: &str) -> String {
        let clean: String = self
            .prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        format!("{}{kind}", clean.trim_start_matches(['-', '_', '.']))
    }

    /// The host dir inside a host's container; records from before it was stored use the
    /// instance's setting.
    pub(crate) fn host_dir_of(&self, h: &StoredHost) -> String {
        h.extra
            .config
            .as_ref()
            .map(|c| c.host_dir.clone())
            .unwrap_or_else(|| self.config.host_dir.clone())
    }
}

impl AsyncProvider for DockerInstance {
    fn capabilities(&self) -> Capabilities {
        let mut caps = machine_capabilities();
        caps.rename = true;
        caps
    }

    mngr_provider_kit::forward_to_inherent!(lifecycle, snapshots, rename_host);

    async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        self.lookup(id_or_name).await
    }

    async fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let _ = include_destroyed; // destroyed hosts leave no record behind
        let all = self.load_all().await?;
        let listed = all.iter().map(|(h, c)| self.listed(h, c.as_ref()));
        Ok(futures_util::future::join_all(listed).await)
    }

    async fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.stored(host).await?.certified_host_data.user_tags)
    }

    async fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        Err(fixed_tags(TAGS_IMMUTABLE, "docker"))
    }

    async fn persisted_agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.agent_records(host).await
    }

    async fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.write_agent_record(host, record).await
    }

    async fn remove_persisted_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        self.remove_agent_record(host, agent_id).await
    }

    // persist_host_record keeps its default (nothing): the host record on the state volume
    // already holds what offline views need (name, tags, snapshots, stop reason), so mirroring
    // the host's data.json would be one more write per change for nothing read back.
}
