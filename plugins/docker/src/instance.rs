//! A docker provider instance: the `ProviderInstance` contract, delegating to the modules.

use crate::config::DockerConfig;
use crate::engine::{Engine, block_on};
use crate::record::StoredHost;
use crate::state::StateStore;
use mngr_plugin_api::*;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

const TAGS_IMMUTABLE: &str = "docker tags are immutable: they are stored as container labels, which Docker cannot change after the container is created";

pub struct DockerInstance {
    pub name: String,
    pub prefix: String,
    pub state_dir: PathBuf,
    pub config: DockerConfig,
    pub engine: Engine,
    pub store: StateStore,
    pub services: Arc<dyn HostServices>,
    pub(crate) cache: Mutex<HashMap<String, StoredHost>>,
    /// Persisted agent records as of the last full read in this run, by host id.
    pub(crate) agent_cache: Mutex<Option<HashMap<String, Vec<PersistedAgentRecord>>>>,
}

pub(crate) fn not_found(what: &str) -> ProviderError {
    ProviderError::not_found(format!("no docker host '{what}'"))
}

impl DockerInstance {
    pub fn new(ctx: InstanceContext, config: DockerConfig) -> ProviderResult<DockerInstance> {
        let engine = Engine::connect(&config, Some(ctx.services.clone()))?;
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
            cache: Mutex::new(HashMap::new()),
            agent_cache: Mutex::new(None),
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
        h.config
            .as_ref()
            .map(|c| c.host_dir.clone())
            .unwrap_or_else(|| self.config.host_dir.clone())
    }
}

impl ProviderInstance for DockerInstance {
    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::none();
        caps.snapshots = true;
        caps.stop_start = true;
        caps.rename = true;
        caps.create_hosts = true;
        caps.destroy_hosts = true;
        caps
    }

    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        block_on(self.create(request))
    }

    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.stop(host))
    }

    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        block_on(self.start(host, snapshot))
    }

    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.destroy(host))
    }

    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        block_on(self.destroy(host))
    }

    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        block_on(self.lookup(id_or_name))
    }

    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        let _ = include_destroyed; // destroyed hosts leave no record behind
        block_on(async {
            let all = self.load_all().await?;
            let listed = all.iter().map(|(h, c)| self.listed(h, c.as_ref()));
            Ok(futures_util::future::join_all(listed).await)
        })
    }

    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        block_on(self.access(host))
    }

    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        block_on(self.snapshot(host, name))
    }

    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        block_on(self.snapshots(host))
    }

    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        block_on(self.delete_snap(host, snapshot_id))
    }

    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        block_on(async { Ok(self.stored(host).await?.certified_host_data.user_tags) })
    }

    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        Err(ProviderError::unsupported(TAGS_IMMUTABLE)
            .with_hint("set tags when creating the host: mngr create NAME --in docker --tag K=V"))
    }

    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        self.set_tags(host, tags)
    }

    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        let _ = keys;
        self.set_tags(host, BTreeMap::new())
    }

    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        block_on(self.rename(host, new_name))
    }

    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        block_on(self.agent_records(host))
    }

    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        block_on(self.write_agent_record(host, record))
    }

    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        block_on(self.remove_agent_record(host, agent_id))
    }

    /// The host record on the state volume already holds what offline views need (name,
    /// tags, snapshots, stop reason), so the host's data.json is not mirrored: that would be
    /// one more write to the volume on every change for nothing read back.
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
}
