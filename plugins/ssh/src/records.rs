//! Agent records kept on this machine for offline views. An ssh machine has no provider API
//! or volume to keep them in, and the machine itself is what may be unreachable, so the
//! copies live in the instance's state dir: `agents/<host id>/<agent id>.json`, files 0600 in
//! 0700 directories (records may hold an agent's environment names and command line).

use mngr_plugin_api::{AgentId, PersistedAgentRecord, ProviderError, ProviderResult};
use mngr_provider_kit::agents::AgentBlobStore;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

pub struct LocalRecords {
    root: PathBuf,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ProviderError {
    ProviderError::internal(format!("{what} {}: {e}", path.display()))
}

impl LocalRecords {
    pub fn new(state_dir: &Path) -> Self {
        LocalRecords {
            root: state_dir.join("agents"),
        }
    }

    fn host_dir(&self, host_id: &str) -> PathBuf {
        self.root.join(host_id)
    }
}

/// A directory only this user can open (0700), made with its parents.
pub fn private_dir(path: &Path) -> ProviderResult<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| io("creating", path, e))
}

impl AgentBlobStore for LocalRecords {
    async fn read_agent_records(&self, host_id: &str) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let dir = self.host_dir(host_id);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io("reading", &dir, e)),
        };
        let mut records = Vec::new();
        for entry in entries {
            let path = entry.map_err(|e| io("reading", &dir, e))?.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue; // a temp file of a write under way
            }
            let bytes = std::fs::read(&path).map_err(|e| io("reading", &path, e))?;
            let record = serde_json::from_slice(&bytes).map_err(|e| {
                ProviderError::internal(format!("{} is not an agent record: {e}", path.display()))
                    .with_hint("delete the file; mngr writes it again when the agent changes")
            })?;
            records.push(record);
        }
        records.sort_by(|a: &PersistedAgentRecord, b| a.id().cmp(&b.id()));
        Ok(records)
    }

    async fn write_agent_record(
        &self,
        host_id: &str,
        agent: &AgentId,
        record: &PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let dir = self.host_dir(host_id);
        private_dir(&dir)?;
        let path = dir.join(format!("{agent}.json"));
        let bytes = serde_json::to_vec_pretty(record).expect("records serialize");
        mngr_plugin_api::fs::write_atomic(&path, &bytes, 0o600).map_err(|e| io("writing", &path, e))
    }

    async fn remove_agent_record(&self, host_id: &str, agent: &AgentId) -> ProviderResult<()> {
        let path = self.host_dir(host_id).join(format!("{agent}.json"));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io("removing", &path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[tokio::test]
    async fn records_round_trip_privately() {
        let state = tempfile::tempdir().unwrap();
        let store = LocalRecords::new(state.path());
        let agent = AgentId::generate();
        assert!(store.read_agent_records("host-1").await.unwrap().is_empty());
        let mut fields = serde_json::Map::new();
        fields.insert("id".into(), agent.as_str().into());
        fields.insert("name".into(), "a".into());
        let record = PersistedAgentRecord::new(fields);
        store
            .write_agent_record("host-1", &agent, &record)
            .await
            .unwrap();
        assert_eq!(store.read_agent_records("host-1").await.unwrap(), [record]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = state.path().join("agents/host-1");
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(format!("{agent}.json"))), 0o600);
        store.remove_agent_record("host-1", &agent).await.unwrap();
        store.remove_agent_record("host-1", &agent).await.unwrap();
        assert!(store.read_agent_records("host-1").await.unwrap().is_empty());
    }
}
