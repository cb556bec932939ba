//! Persisted agent records: copies of each agent's `data.json` that a provider keeps in its own
//! state so agents are listed while their host is offline. The provider supplies storage
//! ([`AgentBlobStore`]: read, write and remove one host's records); [`AgentRecords`] holds the
//! one implementation of the contract's three methods and the run's cache.

use mngr_plugin_api::{AgentId, PersistedAgentRecord, ProviderError, ProviderResult};
use std::collections::HashMap;
use std::sync::Mutex;

/// Where a provider keeps agent records, by host id and agent id.
#[allow(async_fn_in_trait)] // awaited on the plugin's own runtime, never sent elsewhere
pub trait AgentBlobStore {
    /// Every agent record of a host; none when nothing was ever stored.
    async fn read_agent_records(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>>;
    /// Store one agent's record, replacing an older one.
    async fn write_agent_record(
        &self,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()>;
    /// Drop one agent's record; absent is fine.
    async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()>;
}

/// The persisted-agent-record methods of `ProviderInstance`, over any [`AgentBlobStore`],
/// with a cache of the last full read in this run (a listing reads every host's records at
/// once; the offline view of each host then costs nothing).
#[derive(Default)]
pub struct AgentRecords {
    cache: Mutex<Option<HashMap<String, Vec<PersistedAgentRecord>>>>,
}

impl AgentRecords {
    /// Keep what a full read of the store found, by host id.
    pub fn remember_all(&self, by_host: HashMap<String, Vec<PersistedAgentRecord>>) {
        *self.cache.lock().expect("agent cache lock") = Some(by_host);
    }

    /// Whether the last full read found records for this host; `None` without one.
    pub fn cached_any(&self, host_id: &str) -> Option<bool> {
        let cache = self.cache.lock().expect("agent cache lock");
        let all = cache.as_ref()?;
        Some(all.get(host_id).is_some_and(|v| !v.is_empty()))
    }

    /// `persisted_agent_records`.
    pub async fn list(
        &self,
        store: &impl AgentBlobStore,
        host_id: &str,
    ) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let cached = self
            .cache
            .lock()
            .expect("agent cache lock")
            .as_ref()
            .map(|all| all.get(host_id).cloned().unwrap_or_default());
        match cached {
            Some(records) => Ok(records),
            None => store.read_agent_records(host_id).await,
        }
    }

    /// The agent id of a record to persist, checked before anything is written.
    pub fn id_of(record: &PersistedAgentRecord) -> ProviderResult<AgentId> {
        record.agent_id()
    }

    /// `persist_agent_record`, once [`AgentRecords::id_of`] has checked the record.
    pub async fn write(
        &self,
        store: &impl AgentBlobStore,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        self.forget();
        store.write_agent_record(host_id, agent, record).await
    }

    /// `persist_agent_record` whole: [`AgentRecords::id_of`], then [`AgentRecords::write`].
    pub async fn persist(
        &self,
        store: &impl AgentBlobStore,
        host_id: &str,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let agent = Self::id_of(record)?;
        self.write(store, host_id, &agent, record).await
    }

    /// `remove_persisted_agent_record`. Answers whether the host has no agent records left
    /// (a provider may then mark the host for removal).
    pub async fn remove(
        &self,
        store: &impl AgentBlobStore,
        host_id: &str,
        agent_id: &str,
    ) -> ProviderResult<bool> {
        let agent =
            AgentId::parse(agent_id).map_err(|e| ProviderError::invalid_input(e.to_string()))?;
        self.forget();
        store.remove_agent_record(host_id, &agent).await?;
        Ok(store.read_agent_records(host_id).await?.is_empty())
    }

    /// After a write the cached read is stale; the next read goes to the store.
    fn forget(&self) {
        *self.cache.lock().expect("agent cache lock") = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Blobs in memory, counting reads so the cache can be seen working.
    #[derive(Default)]
    struct Memory {
        blobs: Mutex<BTreeMap<(String, String), PersistedAgentRecord>>,
        reads: Mutex<usize>,
    }

    impl AgentBlobStore for Memory {
        async fn read_agent_records(
            &self,
            host_id: &str,
        ) -> ProviderResult<Vec<PersistedAgentRecord>> {
            *self.reads.lock().unwrap() += 1;
            let blobs = self.blobs.lock().unwrap();
            Ok(blobs
                .iter()
                .filter(|((h, _), _)| h == host_id)
                .map(|(_, v)| v.clone())
                .collect())
        }
        async fn write_agent_record(
            &self,
            host_id: &str,
            agent: &AgentId,
            record: &PersistedAgentRecord,
        ) -> ProviderResult<()> {
            let key = (host_id.to_string(), agent.to_string());
            self.blobs.lock().unwrap().insert(key, record.clone());
            Ok(())
        }
        async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()> {
            let key = (host_id.to_string(), agent.to_string());
            self.blobs.lock().unwrap().remove(&key);
            Ok(())
        }
    }

    fn record(id: &AgentId) -> PersistedAgentRecord {
        PersistedAgentRecord::try_from(serde_json::json!({"id": id.to_string(), "name": "a"}))
            .unwrap()
    }

    #[tokio::test]
    async fn written_records_list_remove_and_report_an_emptied_host() {
        let store = Memory::default();
        let records = AgentRecords::default();
        let (one, two) = (AgentId::generate(), AgentId::generate());
        for id in [&one, &two] {
            let checked = AgentRecords::id_of(&record(id)).unwrap();
            records
                .write(&store, "h1", &checked, &record(id))
                .await
                .unwrap();
        }
        assert_eq!(records.list(&store, "h1").await.unwrap().len(), 2);
        assert!(records.list(&store, "h2").await.unwrap().is_empty());
        assert!(!records.remove(&store, "h1", one.as_str()).await.unwrap());
        assert!(records.remove(&store, "h1", two.as_str()).await.unwrap());
        assert!(records.list(&store, "h1").await.unwrap().is_empty());
        let bad = records
            .remove(&store, "h1", "not-an-agent-id")
            .await
            .unwrap_err();
        assert_eq!(bad.kind, mngr_plugin_api::ErrorKind::InvalidInput);
        let no_id = AgentRecords::id_of(&PersistedAgentRecord::default()).unwrap_err();
        assert!(no_id.message.contains("no valid 'id'"), "{}", no_id.message);
    }

    #[tokio::test]
    async fn a_full_read_is_served_from_the_cache_until_a_write() {
        let store = Memory::default();
        let records = AgentRecords::default();
        let id = AgentId::generate();
        assert_eq!(records.cached_any("h1"), None);
        records.remember_all(HashMap::from([("h1".to_string(), vec![record(&id)])]));
        assert_eq!(records.cached_any("h1"), Some(true));
        assert_eq!(records.cached_any("h2"), Some(false));
        // The store is empty: the answer came from the cache.
        assert_eq!(records.list(&store, "h1").await.unwrap().len(), 1);
        assert_eq!(*store.reads.lock().unwrap(), 0);
        records
            .write(&store, "h2", &id, &record(&id))
            .await
            .unwrap();
        assert_eq!(records.cached_any("h1"), None);
        assert!(records.list(&store, "h1").await.unwrap().is_empty());
        assert_eq!(records.list(&store, "h2").await.unwrap().len(), 1);
        assert_eq!(*store.reads.lock().unwrap(), 2);
    }
}
