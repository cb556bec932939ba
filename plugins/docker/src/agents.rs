//! Agents' records on the state volume, for views of hosts that are not running.

use crate::instance::DockerInstance;
use mngr_plugin_api::*;

impl DockerInstance {
    pub(crate) async fn agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<serde_json::Value>> {
        if let Some(cached) = self.agent_cache.lock().expect("cache lock").as_ref() {
            return Ok(cached.get(host.as_str()).cloned().unwrap_or_default());
        }
        if !self.store.ensure(false).await? {
            return Ok(Vec::new());
        }
        self.store.read_agents(host.as_str()).await
    }

    pub(crate) async fn write_agent_record(
        &self,
        host: &HostId,
        record: serde_json::Value,
    ) -> ProviderResult<()> {
        let Some(id) = record
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|s| AgentId::parse(s).ok())
        else {
            return Err(ProviderError::invalid_input(
                "agent record has no valid 'id'",
            ));
        };
        self.forget_agent_records();
        self.store
            .write_host_file(host.as_str(), &format!("{id}.json"), &record)
            .await
    }

    pub(crate) async fn remove_agent_record(
        &self,
        host: &HostId,
        agent_id: &str,
    ) -> ProviderResult<()> {
        let id =
            AgentId::parse(agent_id).map_err(|e| ProviderError::invalid_input(e.to_string()))?;
        self.forget_agent_records();
        self.store
            .remove_host_file(host.as_str(), &format!("{id}.json"))
            .await
    }

    /// After a write the cached read is stale; the next read goes to the volume.
    fn forget_agent_records(&self) {
        *self.agent_cache.lock().expect("cache lock") = None;
    }
}
