//! Agents' records on the state volume, for views of hosts that are not running.

use crate::instance::DockerInstance;
use crate::pending::{Operation, Pending};
use mngr_plugin_api::*;

impl DockerInstance {
    pub(crate) async fn agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
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
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let id = record.agent_id()?;
        self.forget_agent_records();
        let file = format!("{id}.json");
        let record = serde_json::Value::from(record);
        let (written, settled) = tokio::join!(
            self.store.write_host_file(host.as_str(), &file, &record),
            self.settle(host)
        );
        written.and(settled)
    }

    /// A host that gets an agent is no longer half-made (or emptied): it stays.
    async fn settle(&self, host: &HostId) -> ProviderResult<()> {
        let cached = self
            .cache
            .lock()
            .expect("cache lock")
            .get(host.as_str())
            .cloned();
        match cached {
            Some(mut h)
                if h.pending
                    .as_ref()
                    .is_some_and(|p| p.operation != Operation::Destroying) =>
            {
                h.pending = None;
                self.save(&mut h).await
            }
            _ => Ok(()),
        }
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
            .await?;
        // Its last agent gone, the host goes next; marked now, in case this mngr does not
        // live to destroy it (a host made for agents without any is left for reaping).
        if self.store.read_agents(host.as_str()).await?.is_empty()
            && let Some(mut h) = self.known(host).await?
            && h.pending.is_none()
        {
            h.pending = Some(Pending::now(Operation::Emptied));
            self.save(&mut h).await?;
        }
        Ok(())
    }

    /// A host's record from this run's cache, else the volume; `None` when it is gone.
    async fn known(&self, host: &HostId) -> ProviderResult<Option<crate::record::StoredHost>> {
        match self.stored(host).await {
            Ok(h) => Ok(Some(h)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// After a write the cached read is stale; the next read goes to the volume.
    fn forget_agent_records(&self) {
        *self.agent_cache.lock().expect("cache lock") = None;
    }
}
