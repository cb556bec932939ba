//! An online host as the agent layer sees it: its provider, record and host dir, reached
//! through a [`Transport`]. Every on-host read and write of records goes through here.

use super::probe::{self, HostProbe};
use super::record::{AgentRecord, HostData};
use crate::error::{MngrError, Result};
use crate::instances::ProviderHandle;
use crate::transport::{self, CommandOutput, HostLockGuard, LockWait, Transport, TransportError};
use mngr_plugin_api::{HostRecord, ProviderInstance};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// `lock_timeout` of this run's settings, in milliseconds.
static LOCK_TIMEOUT_MS: AtomicU64 =
    AtomicU64::new(crate::config::DEFAULT_LOCK_TIMEOUT.as_millis() as u64);

/// How long [`Host::lock`] waits for a lock another mngr holds (from settings).
pub fn set_lock_timeout(timeout: Duration) {
    LOCK_TIMEOUT_MS.store(timeout.as_millis().max(1) as u64, Ordering::Relaxed);
}

pub struct Host {
    /// The provider instance name.
    pub provider: String,
    pub record: HostRecord,
    pub host_dir: String,
    pub transport: Arc<dyn Transport>,
    pub instance: Arc<dyn ProviderInstance>,
}

impl Host {
    /// Connect to a running host of `provider`.
    pub fn open(provider: &ProviderHandle, record: HostRecord) -> Result<Host> {
        let access = crate::timing::timed("provider: host access", || {
            provider.instance.host_access(&record.id)
        })
        .map_err(|e| MngrError::from_provider(&provider.name, e))?;
        let host_dir = transport::host_dir_of(&access).to_string();
        let transport = transport::connect(&access)
            .map_err(|e| transport_error(&provider.name, record.name.as_str(), e))?;
        Ok(Host {
            provider: provider.name.clone(),
            record,
            host_dir,
            transport,
            instance: provider.instance.clone(),
        })
    }

    pub fn name(&self) -> &str {
        self.record.name.as_str()
    }

    /// `NAME@HOST.PROVIDER` for an agent on this host.
    pub fn address_of(&self, agent: &str) -> String {
        format!("{agent}@{}.{}", self.name(), self.provider)
    }

    pub fn agents_dir(&self) -> String {
        format!("{}/agents", self.host_dir)
    }

    pub fn agent_dir(&self, id: &str) -> String {
        format!("{}/agents/{id}", self.host_dir)
    }

    fn map_err(&self, err: TransportError) -> MngrError {
        transport_error(&self.provider, self.name(), err)
    }

    pub fn run(&self, script: &str) -> Result<CommandOutput> {
        self.transport
            .run(script, None)
            .map_err(|e| self.map_err(e))
    }

    pub fn run_timeout(&self, script: &str, timeout: Duration) -> Result<CommandOutput> {
        self.transport
            .run(script, Some(timeout))
            .map_err(|e| self.map_err(e))
    }

    /// Run a script that must succeed; its stderr becomes the error message.
    pub fn run_ok(&self, script: &str, what: &str) -> Result<String> {
        let out = self.run(script)?;
        if out.success() {
            Ok(out.stdout)
        } else {
            let detail = out.stderr.trim();
            let detail = if detail.is_empty() {
                format!("exit code {}", out.exit_code)
            } else {
                detail.lines().last().unwrap_or(detail).to_string()
            };
            Err(MngrError::failure(format!(
                "{what} on host '{}' failed: {detail}",
                self.name()
            )))
        }
    }

    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        self.transport.read_file(path).map_err(|e| self.map_err(e))
    }

    pub fn write_file(&self, path: &str, data: &[u8], mode: Option<u32>) -> Result<()> {
        self.transport
            .write_file(path, data, mode)
            .map_err(|e| self.map_err(e))
    }

    /// Take the host lock; changes to agents on a host happen while holding it. A wait is
    /// told about (who holds it) and bounded by `lock_timeout`.
    pub fn lock(&self) -> Result<Box<dyn HostLockGuard>> {
        let timeout = Duration::from_millis(LOCK_TIMEOUT_MS.load(Ordering::Relaxed));
        let name = self.name().to_string();
        let notice = move |holder: &str| {
            eprintln!(
                "Waiting for the host lock of host '{name}', held by {holder} (giving up after {} s)",
                timeout.as_secs_f64()
            )
        };
        let wait = LockWait {
            timeout: Some(timeout),
            on_wait: &notice,
        };
        crate::timing::timed("taking the host lock", || {
            self.transport.lock_host(&self.host_dir, &wait)
        })
        .map_err(|e| self.map_err(e))
    }

    /// Read every agent record, tmux pane and process of the host in one command (in process
    /// when the host is this machine: same result, fewer process starts).
    pub fn probe(&self) -> Result<HostProbe> {
        if self.transport.is_local() {
            let mut found = probe::local(&self.host_dir);
            found.keep_panes_of(&self.host_dir);
            return Ok(found);
        }
        let out = self.run(&probe::script(&self.host_dir))?;
        let mut found = probe::parse(&out.stdout).map_err(|e| {
            MngrError::failure(format!(
                "reading agents on host '{}': {e}: {}",
                self.name(),
                out.stderr.trim()
            ))
        })?;
        found.keep_panes_of(&self.host_dir);
        Ok(found)
    }

    /// The host record, or fresh defaults when the host has none yet.
    pub fn read_host_data(&self, prefix: &str) -> Result<HostData> {
        let bytes = self.read_file(&format!("{}/data.json", self.host_dir))?;
        self.host_data_from(bytes, prefix)
    }

    /// The host record from the bytes of its file (`None`: fresh defaults).
    pub fn host_data_from(&self, bytes: Option<Vec<u8>>, prefix: &str) -> Result<HostData> {
        let path = format!("{}/data.json", self.host_dir);
        match bytes {
            Some(bytes) => HostData::parse(&bytes).map_err(|e| {
                MngrError::failure(format!("host record {path} is invalid: {e}"))
                    .with_hint("fix or delete the file; mngr writes a new one")
            }),
            None => Ok(HostData::new(
                self.record.id.as_str(),
                self.record.name.as_str(),
                prefix,
            )),
        }
    }

    /// Write the host record atomically and hand a copy to the provider.
    pub fn write_host_data(&self, data: &mut HostData) -> Result<()> {
        let bytes = data.to_json();
        self.write_file(&format!("{}/data.json", self.host_dir), &bytes, None)?;
        if let Ok(value) = serde_json::from_slice(&bytes)
            && let Err(e) = crate::timing::timed("provider: keeping the host record", || {
                self.instance.persist_host_record(&self.record.id, value)
            })
        {
            crate::warnings::warn(format_args!(
                "provider '{}' did not keep the host record: {}",
                self.provider, e.message
            ));
        }
        Ok(())
    }

    pub fn read_agent_record(&self, id: &str) -> Result<Option<AgentRecord>> {
        let path = format!("{}/data.json", self.agent_dir(id));
        match self.read_file(&path)? {
            None => Ok(None),
            Some(bytes) => AgentRecord::parse(&bytes)
                .map(Some)
                .map_err(|e| MngrError::failure(format!("agent record {path} is invalid: {e}"))),
        }
    }

    /// Write an agent record atomically (the commit point of every change to an agent), then
    /// give the provider its copy for offline listing.
    pub fn write_agent_record(&self, record: &AgentRecord) -> Result<()> {
        let path = format!("{}/data.json", self.agent_dir(record.id.as_str()));
        self.write_file(&path, &record.to_json(), None)?;
        self.persist_agent_record(record);
        Ok(())
    }

    /// Give the provider its copy of an agent record (for listing while the host is offline).
    /// A provider that cannot keep it gets a warning, not a failure: the host's copy counts.
    pub fn persist_agent_record(&self, record: &AgentRecord) {
        let value = record.to_persisted();
        if let Err(e) = crate::timing::timed("provider: keeping the agent record", || {
            self.instance.persist_agent_record(&self.record.id, value)
        }) {
            crate::warnings::warn(format_args!(
                "provider '{}' did not keep the agent record: {}",
                self.provider, e.message
            ));
        }
    }
}

/// A transport failure as a user-facing error.
pub fn transport_error(provider: &str, host: &str, err: TransportError) -> MngrError {
    match err {
        TransportError::Connection(_) | TransportError::Authentication(_) => {
            MngrError::unavailable(format!(
                "cannot reach host '{host}' of provider '{provider}': {err}"
            ))
        }
        TransportError::LockTimeout(message) => MngrError::failure(format!(
            "host '{host}': {message}"
        ))
        .with_hint("wait for that command to finish, or wait longer with -S lock_timeout=SECONDS"),
        other => MngrError::failure(format!("host '{host}': {other}")),
    }
}
