//! A modal provider instance: the provider contract (as the kit's `AsyncProvider`, served on
//! the plugin's runtime by `OnRuntime`), delegating to the modules.

use crate::api::Api;
use crate::config::ModalConfig;
use crate::record::{SandboxPart, StoredHost};
use crate::store::Store;
use mngr_plugin_api::*;
use mngr_provider_kit::adapter::AsyncProvider;
use mngr_provider_kit::agents::AgentRecords;
use mngr_provider_kit::cache::HostCache;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::OnceCell;

pub struct ModalInstance {
    pub name: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    pub config: ModalConfig,
    pub api: Api,
    pub store: Store,
    pub services: Arc<dyn HostServices>,
    app_id: OnceCell<String>,
    pub(crate) cache: HostCache<SandboxPart>,
    pub(crate) agents: AgentRecords,
}

pub(crate) fn not_found(what: &str) -> ProviderError {
    ProviderError::not_found(format!("no modal host '{what}'"))
}

impl ModalInstance {
    pub fn new(ctx: InstanceContext, config: ModalConfig) -> ProviderResult<ModalInstance> {
        let credentials = crate::credentials::from_process(config.server_url.as_deref())?;
        let api = Api::new(credentials)?;
        let store = Store::new(api.clone(), config.volume(&ctx.instance_name));
        Ok(ModalInstance {
            name: ctx.instance_name,
            prefix: ctx.prefix,
            state_dir: ctx.state_dir,
            config,
            api,
            store,
            services: ctx.services,
            app_id: OnceCell::new(),
            cache: HostCache::default(),
            agents: AgentRecords::default(),
        })
    }

    /// The instance's Modal app, made on first use.
    pub(crate) async fn app(&self) -> ProviderResult<&str> {
        let name = self.config.app(&self.name);
        self.app_id
            .get_or_try_init(|| self.api.app_id(&name, true))
            .await
            .map(String::as_str)
    }

    /// Every host record, remembered for the rest of this run.
    pub(crate) async fn load(&self) -> ProviderResult<Vec<StoredHost>> {
        let hosts = self.store.all_hosts().await?;
        self.cache.remember_all(&hosts);
        Ok(hosts)
    }

    pub(crate) async fn find(&self, id_or_name: &str) -> ProviderResult<StoredHost> {
        if let Some(h) = self.cache.get(id_or_name) {
            return Ok(h);
        }
        if HostId::parse(id_or_name).is_ok()
            && let Some(h) = self.store.read_host(id_or_name).await?
        {
            self.remember(&h);
            return Ok(h);
        }
        self.load()
            .await?
            .into_iter()
            .find(|h| h.host_id() == id_or_name || h.name() == id_or_name)
            .ok_or_else(|| not_found(id_or_name))
    }

    pub(crate) async fn stored(&self, host: &HostId) -> ProviderResult<StoredHost> {
        self.find(host.as_str()).await
    }

    pub(crate) async fn save(&self, host: &mut StoredHost) -> ProviderResult<()> {
        host.touch();
        self.store.write_host(host).await?;
        self.remember(host);
        Ok(())
    }

    pub(crate) fn remember(&self, host: &StoredHost) {
        self.cache.remember(host);
    }

    pub(crate) fn forget(&self, host_id: &str) {
        self.cache.forget(host_id);
    }

    pub(crate) fn host_dir_of(&self, h: &StoredHost) -> String {
        h.extra
            .settings
            .as_ref()
            .map(|s| s.host_dir.clone())
            .unwrap_or_else(|| self.config.host_dir.clone())
    }
}

impl AsyncProvider for ModalInstance {
    fn capabilities(&self) -> Capabilities {
        let mut caps = mngr_provider_kit::adapter::machine_capabilities();
        caps.mutable_tags = true;
        caps.rename = true;
        caps
    }

    // list_snapshots is below: the record has them, no inherent method needed.
    mngr_provider_kit::forward_to_inherent!(
        lifecycle,
        create_snapshot,
        delete_snapshot,
        rename_host
    );

    async fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let h = self.find(id_or_name).await?;
        self.listed(&h).await
    }

    async fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let _ = include_destroyed; // destroyed hosts leave no record behind
        self.discover().await
    }

    async fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let h = self.stored(host).await?;
        Ok(mngr_provider_kit::snapshots::newest_first(
            &h.certified_host_data.snapshots,
        ))
    }

    async fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.stored(host).await?.certified_host_data.user_tags)
    }

    async fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        crate::hosts::check_tags(&tags)?;
        let mut h = self.stored(host).await?;
        h.certified_host_data.user_tags = tags;
        self.save(&mut h).await
    }

    async fn persisted_agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.agents.list(&self.store, host.as_str()).await
    }

    async fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.agents
            .persist(&self.store, host.as_str(), &record)
            .await
    }

    async fn remove_persisted_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        self.agents
            .remove(&self.store, host.as_str(), agent_id)
            .await
            .map(|_| ())
    }
}
