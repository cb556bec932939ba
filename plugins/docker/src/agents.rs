//! Agents' records on the state volume, for views of hosts that are not running (the kit's
//! `AgentRecords` over the state store), and what they say about the host's own fate.

use crate::instance::DockerInstance;
use crate::pending::{Operation, Pending};
use mngr_plugin_api::*;
use mngr_provider_kit::agents::AgentRecords;

impl DockerInstance {
    pub(crate) async fn agent_records(
        &self,
        host: &HostId,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        self.agents.list(&self.store, host.as_str()).await
    }

    pub(crate) async fn write_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let id = AgentRecords::id_of(&record)?;
        let (written, settled) = tokio::join!(
            self.agents.write(&self.store, host.as_str(), &id, &record),
            self.settle(host)
        );
        written.and(settled)
    }

    /// A host that gets an agent is no longer half-made (or emptied): it stays.
    async fn settle(&self, host: &HostId) -> ProviderResult<()> {
        let cached = self.cache.get(host.as_str());
        match cached {
            Some(mut h)
                if h.extra
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.operation != Operation::Destroying) =>
            {
                h.extra.pending = None;
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
        let emptied = self
            .agents
            .remove(&self.store, host.as_str(), agent_id)
            .await?;
        // Its last agent gone, the host goes next; marked now, in case this mngr does not
        // live to destroy it (a host made for agents without any is left for reaping).
        if emptied
            && let Some(mut h) = self.known(host).await?
            && h.extra.pending.is_none()
        {
            h.extra.pending = Some(Pending::now(Operation::Emptied));
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
}
