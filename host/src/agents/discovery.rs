//! Discovery: ask every selected provider instance (concurrently) for its hosts, probe each
//! running host once, and build the current view of all agents. Addresses resolve against it.

use super::address::AgentAddress;
use super::host::Host;
use super::probe::HostProbe;
use super::record::AgentRecord;
use super::state::{self, AgentState};
use super::types;
use crate::app::{App, ProviderHandle};
use crate::error::{ExitCode, MngrError, Result};
use mngr_plugin_api::{ErrorKind, HostRecord, HostState};
use std::sync::Arc;

/// A host as discovered: connected and probed when it runs, else its provider's record only.
pub struct HostView {
    pub provider: String,
    pub record: HostRecord,
    pub online: Option<Host>,
    pub probe: Option<HostProbe>,
}

impl HostView {
    pub fn name(&self) -> &str {
        self.record.name.as_str()
    }

    /// The host, connected; an error naming its state when it is not running.
    pub fn require_online(&self) -> Result<&Host> {
        self.online.as_ref().ok_or_else(|| {
            MngrError::not_running(format!(
                "host '{}' of provider '{}' is {}",
                self.name(),
                self.provider,
                self.record.state.as_str()
            ))
            .with_hint(format!(
                "start it first: mngr start AGENT (host state {})",
                self.record.state.as_str()
            ))
        })
    }
}

/// One agent as discovered.
pub struct AgentView {
    pub record: AgentRecord,
    pub state: AgentState,
    pub host: Arc<HostView>,
    /// The pid of the agent's primary pane, when its session exists.
    pub pane_pid: Option<u32>,
}

impl AgentView {
    pub fn name(&self) -> &str {
        &self.record.name
    }

    pub fn address(&self) -> String {
        format!(
            "{}@{}.{}",
            self.record.name,
            self.host.name(),
            self.host.provider
        )
    }
}

/// An agent record that this mngr cannot read (cut short, or written by another version in a
/// shape it does not know). It is listed (state UNKNOWN) and never changed or collected.
pub struct UnreadableAgent {
    /// The agent's dir name (its id, when the dir is mngr's).
    pub id: String,
    /// The name, as far as the record can be read.
    pub name: Option<String>,
    /// Where the record is: its path on the host, or the provider's copy.
    pub path: String,
    pub reason: String,
    pub host: Arc<HostView>,
}

impl UnreadableAgent {
    /// The warning `list` shows for it.
    pub fn message(&self) -> String {
        format!(
            "agent record {} on host '{}' cannot be read: {}; it is listed as UNKNOWN and gc leaves it alone",
            self.path,
            self.host.name(),
            self.reason
        )
    }
}

/// A provider (or one of its hosts) that could not be read.
#[derive(Debug, Clone)]
pub struct DiscoveryError {
    pub provider: String,
    pub message: String,
    /// The provider or host could not be reached (as opposed to failing otherwise).
    pub unreachable: bool,
}

#[derive(Default)]
pub struct Discovery {
    pub hosts: Vec<Arc<HostView>>,
    pub agents: Vec<AgentView>,
    /// Agents whose record cannot be read: listed, never acted on.
    pub unreadable: Vec<UnreadableAgent>,
    pub errors: Vec<DiscoveryError>,
}

/// The providers to query: those named, or every enabled one.
pub fn select_providers<'a>(app: &'a App, names: &[String]) -> Result<Vec<&'a ProviderHandle>> {
    if names.is_empty() {
        return Ok(app.providers.iter().collect());
    }
    names.iter().map(|n| app.provider(n)).collect()
}

/// Discover hosts and agents on the given providers, all at once.
pub fn discover(app: &App, providers: &[&ProviderHandle]) -> Discovery {
    let prefix = app.settings.prefix.as_str();
    let results: Vec<Discovery> = std::thread::scope(|scope| {
        let handles: Vec<_> = providers
            .iter()
            .map(|p| scope.spawn(move || discover_provider(app, p, prefix)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut all = Discovery::default();
    for d in results {
        all.absorb(d);
    }
    all.agents.sort_by(|a, b| {
        (a.record.create_time.as_str(), a.record.name.as_str())
            .cmp(&(b.record.create_time.as_str(), b.record.name.as_str()))
    });
    all
}

fn discover_provider(app: &App, provider: &ProviderHandle, prefix: &str) -> Discovery {
    let mut out = Discovery::default();
    let records = match provider.instance.discover_hosts(false) {
        Ok(r) => r,
        Err(e) => {
            out.errors.push(DiscoveryError {
                provider: provider.name.clone(),
                unreachable: matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Unauthenticated),
                message: e.message,
            });
            return out;
        }
    };
    let hosts: Vec<Discovery> = if records.len() == 1 {
        records
            .into_iter()
            .map(|r| discover_host(app, provider, r, prefix))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = records
                .into_iter()
                .map(|r| scope.spawn(move || discover_host(app, provider, r, prefix)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        })
    };
    for d in hosts {
        out.absorb(d);
    }
    out
}

fn discover_host(
    app: &App,
    provider: &ProviderHandle,
    record: HostRecord,
    prefix: &str,
) -> Discovery {
    let mut out = Discovery::default();
    if record.state == HostState::Running {
        let probed = Host::open(provider, record.clone()).and_then(|host| {
            let probe = host.probe()?;
            Ok((host, probe))
        });
        match probed {
            Ok((host, probe)) => {
                let mut agents = Vec::new();
                let mut unreadable = Vec::new();
                for (dir, parsed) in &probe.records {
                    let agent = match parsed {
                        Ok(agent) => agent,
                        Err(e) => {
                            let path = format!("{}/data.json", host.agent_dir(dir));
                            unreadable.push((dir.clone(), e.clone(), path));
                            continue;
                        }
                    };
                    let session = format!("{prefix}{}", agent.name);
                    let pane = probe.primary_pane(&session);
                    let state = state::determine(
                        pane,
                        &types::expected_process(&agent.agent_type, &agent.command),
                        types::is_known(&agent.agent_type, &app.settings),
                        state::Marks {
                            active: probe.active.contains(dir),
                            launching: probe.launching.contains(dir),
                        },
                        &probe.processes,
                    );
                    agents.push((agent.clone(), state, pane.map(|p| p.pid)));
                }
                let view = Arc::new(HostView {
                    provider: provider.name.clone(),
                    record,
                    online: Some(host),
                    probe: Some(probe),
                });
                for (agent, state, pane_pid) in agents {
                    out.agents.push(AgentView {
                        record: agent,
                        state,
                        host: view.clone(),
                        pane_pid,
                    });
                }
                for (id, e, path) in unreadable {
                    out.unreadable.push(UnreadableAgent {
                        id,
                        name: e.name,
                        path,
                        reason: e.reason,
                        host: view.clone(),
                    });
                }
                out.hosts.push(view);
                return out;
            }
            Err(e) => {
                out.errors.push(DiscoveryError {
                    provider: provider.name.clone(),
                    unreachable: e.code == ExitCode::ProviderUnavailable,
                    message: e.message,
                });
            }
        }
    }
    // Offline (or unreachable): the provider's copies of the agent records.
    let view = Arc::new(HostView {
        provider: provider.name.clone(),
        record,
        online: None,
        probe: None,
    });
    match provider.instance.persisted_agent_records(&view.record.id) {
        Ok(records) => {
            for value in records {
                let agent = match AgentRecord::from_value(value.clone()) {
                    Ok(agent) => agent,
                    Err(reason) => {
                        let field =
                            |k: &str| value.get(k).and_then(|v| v.as_str()).map(str::to_string);
                        out.unreadable.push(UnreadableAgent {
                            id: field("id").unwrap_or_default(),
                            name: field("name"),
                            path: format!("(provider '{}' copy)", provider.name),
                            reason,
                            host: view.clone(),
                        });
                        continue;
                    }
                };
                out.agents.push(AgentView {
                    record: agent,
                    state: AgentState::Stopped,
                    host: view.clone(),
                    pane_pid: None,
                });
            }
        }
        Err(e) => out.errors.push(DiscoveryError {
            provider: provider.name.clone(),
            unreachable: matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Unauthenticated),
            message: e.message,
        }),
    }
    out.hosts.push(view);
    out
}

impl Discovery {
    fn absorb(&mut self, other: Discovery) {
        self.hosts.extend(other.hosts);
        self.agents.extend(other.agents);
        self.unreadable.extend(other.unreadable);
        self.errors.extend(other.errors);
    }

    fn matches(agent: &AgentView, address: &AgentAddress) -> bool {
        let by_agent = if address.is_id() {
            agent.record.id.as_str() == address.agent
        } else {
            agent.record.name == address.agent
        };
        by_agent && Self::on_host(&agent.host, address)
    }

    /// Whether a host is where an address points (any host when it names none).
    fn on_host(host: &HostView, address: &AgentAddress) -> bool {
        let by_host = address
            .host
            .as_ref()
            .is_none_or(|h| host.name() == h || host.record.id.as_str() == h);
        let by_provider = address
            .provider
            .as_ref()
            .is_none_or(|p| &host.provider == p);
        by_host && by_provider
    }

    /// The one agent an address names.
    pub fn resolve(&self, address: &AgentAddress) -> Result<&AgentView> {
        let found: Vec<&AgentView> = self
            .agents
            .iter()
            .filter(|a| Self::matches(a, address))
            .collect();
        match found.len() {
            1 => Ok(found[0]),
            0 => Err(self.not_found(address)),
            _ => {
                let list: Vec<String> = found
                    .iter()
                    .map(|a| format!("{} ({})", a.address(), a.record.id))
                    .collect();
                Err(MngrError::usage(format!(
                    "'{}' matches {} agents: {}",
                    address.agent,
                    found.len(),
                    list.join(", ")
                ))
                .with_hint("name one with NAME@HOST.PROVIDER or its id"))
            }
        }
    }

    fn not_found(&self, address: &AgentAddress) -> MngrError {
        let unreachable: Vec<&DiscoveryError> = self
            .errors
            .iter()
            .filter(|e| e.unreachable && address.provider.as_ref().is_none_or(|p| &e.provider == p))
            .collect();
        if let Some(first) = unreachable.first() {
            let names: Vec<&str> = unreachable.iter().map(|e| e.provider.as_str()).collect();
            return MngrError::unavailable(format!(
                "cannot tell whether agent '{}' exists: provider '{}' is unreachable ({})",
                address.agent,
                names.join("', '"),
                first.message
            ));
        }
        if let Some(u) = self.unreadable.iter().find(|u| {
            (u.id == address.agent || u.name.as_deref() == Some(address.agent.as_str()))
                && Self::on_host(&u.host, address)
        }) {
            return MngrError::failure(u.message())
                .with_hint("fix or remove that file (the mngr version that wrote it may read it)");
        }
        let place = match (&address.host, &address.provider) {
            (Some(h), Some(p)) => format!(" on host '{h}' of provider '{p}'"),
            (Some(h), None) => format!(" on host '{h}'"),
            (None, Some(p)) => format!(" on provider '{p}'"),
            (None, None) => String::new(),
        };
        let what = if address.is_id() { "id" } else { "name" };
        MngrError::not_found(format!("no agent with {what} '{}'{place}", address.agent))
            .with_hint("mngr list shows every agent")
    }
}

/// Discover on the providers the addresses need (all of them unless every address names its
/// provider) and resolve each address.
pub fn discover_for(app: &App, addresses: &[AgentAddress]) -> Result<Discovery> {
    let mut names: Vec<String> = Vec::new();
    if addresses.iter().all(|a| a.provider.is_some()) {
        for a in addresses {
            let p = a.provider.clone().expect("checked");
            if !names.contains(&p) {
                names.push(p);
            }
        }
    }
    let providers = select_providers(app, &names)?;
    Ok(discover(app, &providers))
}
