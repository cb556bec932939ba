//! The instance's state on its Modal Volume: host records at `/hosts/<host_id>.json` and
//! persisted agent records at `/agents/<host_id>/<agent_id>.json`. The volume is opened on
//! first use, so commands that never touch state make no volume call.

use crate::api::Api;
use crate::record::{self, StoredHost};
use crate::volume::Volume;
use mngr_plugin_api::*;
use mngr_provider_kit::agents::AgentBlobStore;
use tokio::sync::OnceCell;

pub struct Store {
    api: Api,
    name: String,
    volume: OnceCell<Volume>,
}

fn agent_dir(host_id: &str) -> String {
    format!("/agents/{host_id}")
}

/// The last path component without `.json`.
fn stem(path: &str) -> Option<&str> {
    path.rsplit('/').next()?.strip_suffix(".json")
}

impl Store {
    pub fn new(api: Api, name: String) -> Store {
        Store {
            api,
            name,
            volume: OnceCell::new(),
        }
    }

    async fn volume(&self) -> ProviderResult<&Volume> {
        self.volume
            .get_or_try_init(|| Volume::open(&self.api, &self.name))
            .await
    }

    pub async fn write_host(&self, host: &StoredHost) -> ProviderResult<()> {
        let bytes = serde_json::to_vec_pretty(host).expect("records serialize");
        self.volume()
            .await?
            .write(&record::path(host.host_id()), &bytes)
            .await
    }

    pub async fn read_host(&self, host_id: &str) -> ProviderResult<Option<StoredHost>> {
        let Some(bytes) = self.volume().await?.read(&record::path(host_id)).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ProviderError::internal(format!(
                "the record of modal host {host_id} is unreadable: {e}"
            ))
        })
    }

    /// Every host record (an unreadable one is skipped with a warning: it names no host).
    pub async fn all_hosts(&self) -> ProviderResult<Vec<StoredHost>> {
        let volume = self.volume().await?;
        let ids: Vec<String> = volume
            .list("/hosts")
            .await?
            .iter()
            .filter_map(|p| stem(p).map(str::to_string))
            .collect();
        let reads = ids.iter().map(|id| self.read_host(id));
        let mut hosts = Vec::new();
        for read in futures_util::future::join_all(reads).await {
            if let Some(host) = read? {
                hosts.push(host);
            }
        }
        Ok(hosts)
    }

    /// Remove a host's record and its agents' records.
    pub async fn delete_host(&self, host_id: &str) -> ProviderResult<()> {
        let volume = self.volume().await?;
        volume.remove(&agent_dir(host_id)).await?;
        volume.remove(&record::path(host_id)).await
    }
}

impl AgentBlobStore for Store {
    async fn read_agent_records(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let volume = self.volume().await?;
        let mut records = Vec::new();
        for path in volume.list(&agent_dir(host_id)).await? {
            let Some(name) = stem(&path) else { continue };
            if let Some(bytes) = volume
                .read(&format!("{}/{name}.json", agent_dir(host_id)))
                .await?
            {
                let record = serde_json::from_slice(&bytes).map_err(|e| {
                    ProviderError::internal(format!("agent record {path} is unreadable: {e}"))
                })?;
                records.push(record);
            }
        }
        Ok(records)
    }

    async fn write_agent_record(
        &self,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let bytes = serde_json::to_vec(record).expect("records serialize");
        let path = format!("{}/{}.json", agent_dir(host_id), agent.as_str());
        self.volume().await?.write(&path, &bytes).await
    }

    async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()> {
        let path = format!("{}/{}.json", agent_dir(host_id), agent.as_str());
        self.volume().await?.remove(&path).await
    }
}
