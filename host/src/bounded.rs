//! Provider calls with a time limit (`provider_timeout`). Provider calls are synchronous (and,
//! for plugins, cross the FFI), so they cannot be cancelled: each runs on its own thread, and
//! a call that has not returned in time is abandoned there and reported as unreachable.
//!
//! Queries (listing hosts, host access, reading and keeping records, tags) are bounded.
//! Operations that do real work for as long as it takes (create, start, stop, destroy,
//! snapshots, rename) are not: the provider bounds each step of them itself.

use mngr_plugin_api::{
    Capabilities, CreateHostRequest, ErrorKind, HostAccess, HostId, HostName, HostRecord,
    PersistedAgentRecord, ProviderError, ProviderInstance, ProviderResult, SnapshotInfo,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a bounded call ended without a value.
#[derive(Debug, PartialEq, Eq)]
pub enum Unfinished {
    /// No answer within the limit; the call goes on, abandoned, on its thread.
    TimedOut,
    /// The call panicked.
    Panicked,
}

/// Run `call` on its own thread and wait for it at most `limit`.
pub fn call_within<T: Send + 'static>(
    limit: Duration,
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Unfinished> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("mngr-provider-call".into())
        .spawn(move || {
            let _ = tx.send(call());
        })
        .expect("a thread for a provider call starts");
    match rx.recv_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Unfinished::TimedOut),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Unfinished::Panicked),
    }
}

/// `20`, `2.5`: seconds as settings write them.
pub fn seconds(d: Duration) -> String {
    format!("{}", d.as_secs_f64())
}

/// The error of a provider that did not answer in time.
pub fn timed_out(provider: &str, what: &str, limit: Duration) -> ProviderError {
    ProviderError::unavailable(format!(
        "no answer within {} s ({what})",
        seconds(limit)
    ))
    .with_hint(format!(
        "provider '{provider}' accepts requests but does not answer: check its service, raise provider_timeout (or [providers.{provider}] provider_timeout) to wait longer, or set [providers.{provider}] is_enabled = false"
    ))
}

/// The warning line for a provider that did not answer in time (once per instance and run).
pub fn warn_slow(provider: &str, what: &str, limit: Duration) {
    crate::warnings::warn(format_args!(
        "provider '{provider}' did not answer within {} s ({what}); treating it as unreachable (raise provider_timeout, now {} s, to wait longer)",
        seconds(limit),
        seconds(limit)
    ));
}

/// A provider instance whose queries are bounded by a timeout.
pub struct TimedInstance {
    name: String,
    inner: Arc<dyn ProviderInstance>,
    limit: Duration,
    warned: AtomicBool,
}

impl TimedInstance {
    pub fn new(name: &str, inner: Arc<dyn ProviderInstance>, limit: Duration) -> TimedInstance {
        TimedInstance {
            name: name.to_string(),
            inner,
            limit,
            warned: AtomicBool::new(false),
        }
    }

    fn bounded<T: Send + 'static>(
        &self,
        what: &'static str,
        call: impl FnOnce(&dyn ProviderInstance) -> ProviderResult<T> + Send + 'static,
    ) -> ProviderResult<T> {
        let inner = self.inner.clone();
        let started = Instant::now();
        let result = call_within(self.limit, move || call(inner.as_ref()));
        crate::timing::report(|| format!("provider '{}': {what}", self.name), started);
        match result {
            Ok(answer) => answer,
            Err(Unfinished::TimedOut) => {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    warn_slow(&self.name, what, self.limit);
                }
                Err(timed_out(&self.name, what, self.limit))
            }
            Err(Unfinished::Panicked) => Err(ProviderError::new(
                ErrorKind::Panic,
                format!("the provider panicked ({what})"),
            )),
        }
    }
}

impl ProviderInstance for TimedInstance {
    fn capabilities(&self) -> Capabilities {
        self.try_capabilities().unwrap_or_default()
    }
    fn try_capabilities(&self) -> ProviderResult<Capabilities> {
        self.bounded("reading its capabilities", |i| i.try_capabilities())
    }

    // Operations: as long as they take.
    fn create_host(&self, request: CreateHostRequest) -> ProviderResult<HostRecord> {
        self.inner.create_host(request)
    }
    fn stop_host(&self, host: &HostId) -> ProviderResult<()> {
        self.inner.stop_host(host)
    }
    fn start_host(&self, host: &HostId, snapshot: Option<&str>) -> ProviderResult<HostRecord> {
        self.inner.start_host(host, snapshot)
    }
    fn destroy_host(&self, host: &HostId) -> ProviderResult<()> {
        self.inner.destroy_host(host)
    }
    fn delete_host(&self, host: &HostId) -> ProviderResult<()> {
        self.inner.delete_host(host)
    }
    fn create_snapshot(&self, host: &HostId, name: Option<&str>) -> ProviderResult<SnapshotInfo> {
        self.inner.create_snapshot(host, name)
    }
    fn delete_snapshot(&self, host: &HostId, snapshot_id: &str) -> ProviderResult<()> {
        self.inner.delete_snapshot(host, snapshot_id)
    }
    fn rename_host(&self, host: &HostId, new_name: &HostName) -> ProviderResult<HostRecord> {
        self.inner.rename_host(host, new_name)
    }

    // Queries: bounded.
    fn get_host(&self, id_or_name: &str) -> ProviderResult<HostRecord> {
        let id_or_name = id_or_name.to_string();
        self.bounded("looking up a host", move |i| i.get_host(&id_or_name))
    }
    fn discover_hosts(&self, include_destroyed: bool) -> ProviderResult<Vec<HostRecord>> {
        self.bounded("listing hosts", move |i| {
            i.discover_hosts(include_destroyed)
        })
    }
    fn host_access(&self, host: &HostId) -> ProviderResult<HostAccess> {
        let host = host.clone();
        self.bounded("host access", move |i| i.host_access(&host))
    }
    fn list_snapshots(&self, host: &HostId) -> ProviderResult<Vec<SnapshotInfo>> {
        let host = host.clone();
        self.bounded("listing snapshots", move |i| i.list_snapshots(&host))
    }
    fn get_tags(&self, host: &HostId) -> ProviderResult<BTreeMap<String, String>> {
        let host = host.clone();
        self.bounded("reading tags", move |i| i.get_tags(&host))
    }
    fn set_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let host = host.clone();
        self.bounded("setting tags", move |i| i.set_tags(&host, tags))
    }
    fn add_tags(&self, host: &HostId, tags: BTreeMap<String, String>) -> ProviderResult<()> {
        let host = host.clone();
        self.bounded("adding tags", move |i| i.add_tags(&host, tags))
    }
    fn remove_tags(&self, host: &HostId, keys: Vec<String>) -> ProviderResult<()> {
        let host = host.clone();
        self.bounded("removing tags", move |i| i.remove_tags(&host, keys))
    }
    fn persisted_agent_records(&self, host: &HostId) -> ProviderResult<Vec<PersistedAgentRecord>> {
        let host = host.clone();
        self.bounded("reading its copies of agent records", move |i| {
            i.persisted_agent_records(&host)
        })
    }
    fn persist_agent_record(
        &self,
        host: &HostId,
        record: PersistedAgentRecord,
    ) -> ProviderResult<()> {
        let host = host.clone();
        self.bounded("keeping an agent record", move |i| {
            i.persist_agent_record(&host, record)
        })
    }
    fn remove_persisted_agent_record(&self, host: &HostId, agent_id: &str) -> ProviderResult<()> {
        let (host, agent_id) = (host.clone(), agent_id.to_string());
        self.bounded("removing its copy of an agent record", move |i| {
            i.remove_persisted_agent_record(&host, &agent_id)
        })
    }
    fn persist_host_record(&self, host: &HostId, record: serde_json::Value) -> ProviderResult<()> {
        let host = host.clone();
        self.bounded("keeping the host record", move |i| {
            i.persist_host_record(&host, record)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_that_does_not_return_in_time_is_abandoned() {
        let started = Instant::now();
        let out = call_within(Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
        });
        assert_eq!(out, Err(Unfinished::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(call_within(Duration::from_secs(5), || 7), Ok(7));
        assert_eq!(
            call_within(Duration::from_secs(5), || -> u8 { panic!("boom") }),
            Err(Unfinished::Panicked)
        );
    }
}
