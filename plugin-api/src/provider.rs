//! The provider traits. Built-in and plugin backends implement the same traits; the FFI layer
//! adapts them in both directions. Calls are synchronous: the host calls them from blocking
//! tasks, and a plugin that needs async runs its own runtime.

use crate::agent_record::PersistedAgentRecord;
use crate::error::{ProviderError, ProviderResult};
use crate::ids::{HostId, HostName};
use crate::types::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// How important a [`HostServices::log`] line is. The host shows `Error` always, `Warn`
/// unless `-q`, `Info` from `-v`, `Debug` from `-vv` and `Trace` from `-vvv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Something failed that the user must know about even if the call succeeds.
    Error,
    /// Something the user should know about (a resource left behind, a fallback taken).
    Warn,
    /// A step worth reporting in verbose output.
    Info,
    /// Detail for diagnosing the provider.
    Debug,
    /// Everything, such as each API request.
    Trace,
}

/// Services the host offers to providers: logging and progress reach the user through these.
pub trait HostServices: Send + Sync {
    /// Report one line to the user at `level`. Providers use this instead of printing: their
    /// stdout and stderr are not the user's.
    fn log(&self, level: LogLevel, message: &str);
    /// A short line describing what is happening now ("building image", "waiting for sshd").
    fn progress(&self, message: &str);
    /// The version of the host binary.
    fn host_version(&self) -> String;
}

/// What a backend receives when it builds an instance.
#[derive(Clone)]
#[non_exhaustive]
pub struct InstanceContext {
    /// The instance name (`[providers.NAME]`).
    pub instance_name: String,
    /// A directory on this machine that belongs to this instance (keys, caches):
    /// `<mngr root>/providers/<instance>`. Created by the host before the call.
    pub state_dir: PathBuf,
    /// The resource prefix (`mngr-` by default) for names of containers, sessions, labels.
    pub prefix: String,
    /// Logging and progress for this instance; keep it for the instance's lifetime.
    pub services: Arc<dyn HostServices>,
}

impl InstanceContext {
    /// The context of instance `instance_name`, as the host builds it (and a test, to build an
    /// instance directly).
    pub fn new(
        instance_name: impl Into<String>,
        state_dir: impl Into<PathBuf>,
        prefix: impl Into<String>,
        services: Arc<dyn HostServices>,
    ) -> Self {
        InstanceContext {
            instance_name: instance_name.into(),
            state_dir: state_dir.into(),
            prefix: prefix.into(),
            services,
        }
    }
}

/// A provider backend: a stateless factory of provider instances.
pub trait ProviderBackend: Send + Sync {
    /// The backend's name, help texts, configuration keys and create flags. Called once, at
    /// registration; must be cheap and must not fail or touch the network.
    fn describe(&self) -> BackendDescription;

    /// Build an instance from its configuration table (common keys such as `backend` and
    /// `is_enabled` already removed). Unknown keys must be rejected with `InvalidConfig`.
    /// Must not create remote resources.
    fn build_instance(
        &self,
        ctx: InstanceContext,
        config: serde_json::Map<String, serde_json::Value>,
    ) -> ProviderResult<Box<dyn ProviderInstance>>;
}

fn unsupported<T>(what: &str) -> ProviderResult<T> {
    Err(ProviderError::unsupported(format!(
        "this provider does not support {what}"
    )))
}

/// A configured provider endpoint that creates and manages hosts.
///
/// Operations a provider does not support keep their default body, which returns an
/// `Unsupported` error; its [`Capabilities`] must say so too.
pub trait ProviderInstance: Send + Sync {
    /// What this instance supports. The host refuses unsupported operations before calling
    /// them, so this must be true of every call: claim only what works, and keep the answer the
    /// same for the instance's lifetime. Must be cheap and must not touch the network.
    fn capabilities(&self) -> Capabilities;

    /// [`capabilities`](Self::capabilities), or why they could not be read. Only an instance
    /// living in a plugin can fail here (an error or a panic across the FFI, where
    /// `capabilities` claims nothing); the host calls this to warn about it. Implementors
    /// leave the default.
    fn try_capabilities(&self) -> ProviderResult<Capabilities> {
        Ok(self.capabilities())
    }

    /// Create and start a host. A name already used on this instance is `AlreadyExists`.
    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        let _ = request;
        unsupported("creating hosts")
    }
    /// Stop a running host, keeping its filesystem so `start_host` can bring it back (needs
    /// `stop_start`). Stopping a host that is already stopped succeeds.
    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        unsupported("stopping hosts")
    }
    /// Start a stopped or paused host (needs `stop_start`), or, with `snapshot` (a
    /// [`SnapshotInfo::id`]), restore it from that snapshot first (needs `snapshots`). Return
    /// the record once the host is `Running` and `host_access` works.
    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        let _ = (host, snapshot);
        unsupported("starting hosts")
    }
    /// Destroy the host and everything made for it. A host of which nothing is left may
    /// answer `NotFound` (so a caller that lost a race can say it was already gone); callers
    /// that only want it gone treat that as success.
    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        unsupported("destroying hosts")
    }
    /// Forget every record of a destroyed host (called by gc).
    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        let _ = host;
        Ok(())
    }

    /// Look a host up by id or name. Absent is `NotFound`.
    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord>;
    /// List this instance's hosts without connecting to them.
    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>>;
    /// How to reach a running host.
    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess>;

    /// Snapshot the host's filesystem (needs `snapshots`), under `name` or a name the provider
    /// chooses. The snapshot must outlive the host until `delete_snapshot`.
    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        let _ = (host, name);
        unsupported("snapshots")
    }
    /// Newest first. Providers without snapshots return an empty list.
    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let _ = host;
        Ok(Vec::new())
    }
    /// Delete one of the host's snapshots by [`SnapshotInfo::id`] (needs `snapshots`). An id
    /// this host has no snapshot of is `NotFound`.
    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        let _ = (host, snapshot_id);
        unsupported("snapshots")
    }

    /// The host's user tags. The default reads them from [`get_host`](Self::get_host); override
    /// it only if the provider has a cheaper way.
    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        Ok(self.get_host(host.as_str())?.tags)
    }
    /// Replace all tags (needs `mutable_tags`). The defaults of `add_tags` and `remove_tags`
    /// are built on this, so a provider with mutable tags implements at least this one.
    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let _ = (host, tags);
        unsupported("changing tags")
    }
    /// Insert or update these tags.
    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let mut all = self.get_tags(host)?;
        all.extend(tags);
        self.set_tags(host, all)
    }
    /// Remove these tag keys; keys the host does not have are ignored.
    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        let mut all = self.get_tags(host)?;
        for key in keys {
            all.remove(&key);
        }
        self.set_tags(host, all)
    }

    /// Give the host a new name (needs `rename`), keeping its id, and return the new record.
    /// A name another host of this instance has is `AlreadyExists`.
    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        let _ = (host, new_name);
        unsupported("renaming hosts")
    }

    /// Records kept in the provider so agents can be listed while the host is offline, as
    /// [`persist_agent_record`](Self::persist_agent_record) received them.
    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let _ = host;
        Ok(Vec::new())
    }
    /// Called after every agent record write so offline views stay current.
    /// Keep the whole record, replacing the one with the same [`PersistedAgentRecord::id`].
    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
    /// Called when an agent is destroyed: drop its persisted record. An agent with no record
    /// succeeds.
    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        let _ = (host, agent_id);
        Ok(())
    }
    /// Called after every host `data.json` write with its contents.
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        let _ = (host, record);
        Ok(())
    }
}
