//! Stand-ins for fast unit tests of the agent layer's policy (placement, destroy, gc): a
//! provider whose hosts live in memory and a transport that runs its scripts on this machine
//! with `tmux` a no-op, so a test touches a temp dir and git at most. The real tests (real
//! tmux, Docker Engine, sshd) stay beside them.

use super::discovery::{AgentView, Discovery, HostView};
use super::host::Host;
use super::record::AgentRecord;
use super::state::AgentState;
use crate::instances::{InstancePlan, ProviderHandle, ProviderSet};
use crate::transport::local::LocalTransport;
use crate::transport::{
    CommandOutput, HostLockGuard, LockWait, PushOptions, Transport, TransportError, TransportResult,
};
use mngr_plugin_api::{
    Capabilities, CreateHostRequest, HostAccess, HostId, HostName, HostRecord, HostState,
    PersistedAgentRecord, ProviderError, ProviderInstance, ProviderResult,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A provider whose hosts are records in memory, each with a host dir under `root`. Every
/// call that changes something is logged in [`MemoryProvider::calls`].
pub struct MemoryProvider {
    name: String,
    capabilities: Capabilities,
    root: PathBuf,
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    hosts: Vec<HostRecord>,
    calls: Vec<String>,
    /// `host_access` fails (a host made but never reachable).
    unreachable: bool,
    /// The provider's copies of agent records, by host id.
    agent_copies: Vec<(HostId, PersistedAgentRecord)>,
}

impl MemoryProvider {
    pub fn new(name: &str, capabilities: Capabilities, root: &Path) -> Arc<MemoryProvider> {
        Arc::new(MemoryProvider {
            name: name.to_string(),
            capabilities,
            root: root.to_path_buf(),
            state: Mutex::new(MemoryState::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap()
    }

    /// Add a host named `name` in `state`, its host dir made; returns its record.
    pub fn add_host(&self, name: &str, state: HostState) -> HostRecord {
        let id = HostId::generate();
        let host_dir = self.root.join(id.as_str());
        std::fs::create_dir_all(&host_dir).unwrap();
        // Through serde, as a provider's answer arrives: independent of how records are built.
        let record: HostRecord = serde_json::from_value(serde_json::json!({
            "id": id,
            "name": name,
            "provider": self.name,
            "state": state,
            "host_dir": host_dir.to_string_lossy(),
        }))
        .unwrap();
        self.state().hosts.push(record.clone());
        record
    }

    /// Make `host_access` fail from now on.
    pub fn make_unreachable(&self) {
        self.state().unreachable = true;
    }

    /// What was asked of it, in order (`create NAME`, `start NAME`, `destroy NAME`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// The hosts it still lists, by name.
    pub fn host_names(&self) -> Vec<String> {
        self.state()
            .hosts
            .iter()
            .map(|h| h.name.to_string())
            .collect()
    }

    /// Change a host's record (stop it, mark it abandoned, ...) as if outside mngr.
    pub fn update(&self, id: &HostId, change: impl Fn(&mut HostRecord)) {
        self.state()
            .hosts
            .iter_mut()
            .filter(|h| &h.id == id)
            .for_each(change);
    }

    fn log(&self, verb: &str, host: &HostId) {
        let name = self
            .state()
            .hosts
            .iter()
            .find(|h| &h.id == host)
            .map(|h| h.name.to_string())
            .unwrap_or_else(|| host.to_string());
        self.state().calls.push(format!("{verb} {name}"));
    }

    fn find(&self, host: &HostId) -> ProviderResult<HostRecord> {
        self.get_host(host.as_str())
    }
}

impl ProviderInstance for MemoryProvider {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let record = self.add_host(request.name.as_str(), HostState::Running);
        self.log("create", &record.id);
        Ok(record)
    }

    fn start_host(&self, host: &HostId, _snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        self.log("start", host);
        self.update(host, |h| h.state = HostState::Running);
        self.find(host)
    }

    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        self.find(host)?;
        self.log("destroy", host);
        self.state().hosts.retain(|h| &h.id != host);
        Ok(())
    }

    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        self.log("delete", host);
        self.state().hosts.retain(|h| &h.id != host);
        Ok(())
    }

    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let state = self.state();
        let live = |h: &&HostRecord| h.state != HostState::Destroyed;
        state
            .hosts
            .iter()
            .filter(live)
            .find(|h| h.id.as_str() == id_or_name || h.name.as_str() == id_or_name)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("no host '{id_or_name}'")))
    }

    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        Ok(self
            .state()
            .hosts
            .iter()
            .filter(|h| include_destroyed || h.state != HostState::Destroyed)
            .cloned()
            .collect())
    }

    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        if self.state().unreachable {
            return Err(ProviderError::unavailable("the host does not answer"));
        }
        Ok(HostAccess::local(self.find(host)?.host_dir))
    }

    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        self.log(&format!("rename to {new_name}:"), host);
        for h in self.state().hosts.iter_mut().filter(|h| &h.id == host) {
            h.name = new_name.clone();
        }
        self.find(host)
    }

    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let state = self.state();
        let copies = state.agent_copies.iter().filter(|(h, _)| h == host);
        Ok(copies.map(|(_, r)| r.clone()).collect())
    }

    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let mut state = self.state();
        let id = record.id().map(str::to_string);
        state
            .agent_copies
            .retain(|(h, r)| !(h == host && r.id().map(str::to_string) == id));
        state.agent_copies.push((host.clone(), record));
        Ok(())
    }

    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        self.state()
            .agent_copies
            .retain(|(h, r)| !(h == host && r.id() == Some(agent_id)));
        Ok(())
    }
}

/// Capabilities as `change` sets them, every other one off. (Set field by field: vendors'
/// types may gain fields.)
pub fn capabilities(change: impl Fn(&mut Capabilities)) -> Capabilities {
    let mut c = Capabilities::default();
    change(&mut c);
    c
}

/// The handle the agent layer knows `provider` by.
pub fn handle(name: &str, provider: &Arc<MemoryProvider>) -> ProviderHandle {
    ProviderHandle {
        name: name.to_string(),
        backend: "memory".to_string(),
        capabilities: provider.capabilities(),
        instance: provider.clone(),
        timeout: Duration::from_secs(10),
    }
}

/// A provider set of `handles` (no disabled instances).
pub fn provider_set(handles: &[ProviderHandle]) -> ProviderSet<'_> {
    const NO_PLANS: &[InstancePlan] = &[];
    ProviderSet {
        handles,
        plans: NO_PLANS,
    }
}

/// Runs scripts with `sh` on this machine like [`LocalTransport`], with `tmux` a shell
/// function that does nothing: sessions are neither started nor found. It says it is not
/// local, so the agent layer reads hosts through scripts, as it does over SSH.
pub struct NoTmuxTransport(LocalTransport);

impl Transport for NoTmuxTransport {
    fn run(&self, script: &str, timeout: Option<Duration>) -> TransportResult<CommandOutput> {
        self.0.run(&format!("tmux() {{ :; }}\n{script}"), timeout)
    }
    fn read_file(&self, path: &str) -> TransportResult<Option<Vec<u8>>> {
        self.0.read_file(path)
    }
    fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> TransportResult<()> {
        self.0.write_file(path, data, mode)
    }
    fn push_dir(&self, src: &Path, dest: &str, options: &PushOptions) -> TransportResult<()> {
        self.0.push_dir(src, dest, options)
    }
    fn lock_host(
        &self,
        host_dir: &str,
        wait: &LockWait,
    ) -> TransportResult<Box<dyn HostLockGuard>> {
        self.0.lock_host(host_dir, wait)
    }
    fn run_interactive(&self, _script: &str) -> TransportResult<i32> {
        // Policy tests never attach; a test that tries gets an error, not a panic.
        Err(TransportError::Io("no terminal in unit tests".into()))
    }
    fn is_local(&self) -> bool {
        false
    }
}

/// `record` of `provider`, opened through a [`NoTmuxTransport`].
pub fn open(provider: &ProviderHandle, record: HostRecord) -> Host {
    Host {
        provider: provider.name.clone(),
        host_dir: record.host_dir.clone(),
        record,
        transport: Arc::new(NoTmuxTransport(LocalTransport::new())),
        instance: provider.instance.clone(),
    }
}

/// An agent record named `name` with its work dir at `work_dir` made `mode` (`in_place`,
/// `copy`, `worktree`).
pub fn agent_record(name: &str, work_dir: &str, mode: &str) -> AgentRecord {
    AgentRecord::from_value(serde_json::json!({
        "id": mngr_plugin_api::AgentId::generate(),
        "name": name,
        "type": "command",
        "command": "sleep 1000",
        "work_dir": work_dir,
        "plugin": {"work_dir": {"mode": mode}},
    }))
    .unwrap()
}

/// What discovery finds on these hosts of `provider`: running ones opened and probed (through
/// [`NoTmuxTransport`]), the others with the provider's copies of their agent records.
pub fn discover(provider: &ProviderHandle) -> Discovery {
    let mut found = Discovery::default();
    for record in provider.instance.discover_hosts(false).unwrap() {
        let (online, probe, records) = if record.state == HostState::Running {
            let host = open(provider, record.clone());
            let probe = host.probe().unwrap();
            let records: Vec<AgentRecord> = probe
                .records
                .iter()
                .filter_map(|(_, r)| r.as_ref().ok().cloned())
                .collect();
            (Some(host), Some(probe), records)
        } else {
            let copies = provider
                .instance
                .persisted_agent_records(&record.id)
                .unwrap();
            let records = copies
                .into_iter()
                .map(|v| AgentRecord::from_value(v.into()).unwrap())
                .collect();
            (None, None, records)
        };
        let view = Arc::new(HostView {
            provider: provider.name.clone(),
            record,
            online,
            probe,
            error: None,
        });
        for record in records {
            found.agents.push(AgentView {
                record,
                state: AgentState::Stopped,
                host: view.clone(),
                pane_pid: None,
            });
        }
        found.hosts.push(view);
    }
    found
}
