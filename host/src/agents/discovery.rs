//! Discovery: ask every selected provider instance (concurrently) for its hosts, probe each
//! running host once, and build the current view of all agents. Addresses resolve against it.

use super::address::AgentAddress;
use super::host::Host;
use super::probe::HostProbe;
use super::record::AgentRecord;
use super::state::{self, AgentState};
use super::types;
use crate::config::Settings;
use crate::error::{ExitCode, MngrError, Result};
use crate::instances::{InstancePlan, ProviderHandle};
use mngr_plugin_api::{ErrorKind, HostRecord, HostState, ProviderError};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// How long name resolution still waits for the providers that have not answered once every
/// name was found on those that did: a same-named agent on a provider that answers within it
/// still makes the name ambiguous; a slower provider is not waited for. (Agent ids are unique,
/// so an id found needs no wait.)
const STRAGGLER_WAIT: Duration = Duration::from_secs(2);

/// A host as discovered: connected and probed when it runs, else its provider's record only.
pub struct HostView {
    pub provider: String,
    pub record: HostRecord,
    pub online: Option<Host>,
    pub probe: Option<HostProbe>,
    /// Why a running host could not be read (its host key does not match, sshd does not
    /// answer): commands that need the host fail with this, not with its state.
    pub error: Option<MngrError>,
}

impl HostView {
    pub fn name(&self) -> &str {
        self.record.name.as_str()
    }

    /// Fail with the error that kept a running host from being read.
    pub fn require_reachable(&self) -> Result<()> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// The host, connected; an error naming its state when it is not running, or why it
    /// could not be reached when it runs.
    pub fn require_online(&self) -> Result<&Host> {
        self.require_reachable()?;
        self.online.as_ref().ok_or_else(|| {
            let error = MngrError::not_running(not_running_line(&self.provider, &self.record));
            match self.record.failure_reason {
                // The reason says what to do (reach the machine, pin its key); starting is no fix.
                Some(_) => error,
                None => error.with_hint(format!(
                    "start it first: mngr start AGENT (host state {})",
                    self.record.state.as_str()
                )),
            }
        })
    }
}

/// "host 'x' of provider 'p' is STATE", and why when the provider says.
pub fn not_running_line(provider: &str, record: &HostRecord) -> String {
    let why = record
        .failure_reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "host '{}' of provider '{provider}' is {}{why}",
        record.name,
        record.state.as_str()
    )
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
    /// What the provider reported beyond its message (`Null` when nothing).
    pub details: serde_json::Value,
    /// The provider said trying again may succeed.
    pub retryable: bool,
}

impl DiscoveryError {
    /// An error of mngr's own about `provider` (no details).
    fn new(provider: &str, message: impl Into<String>, unreachable: bool) -> DiscoveryError {
        DiscoveryError {
            provider: provider.to_string(),
            message: message.into(),
            unreachable,
            details: serde_json::Value::Null,
            retryable: false,
        }
    }

    /// What `provider` answered, with its details.
    fn from_provider(provider: &str, e: ProviderError) -> DiscoveryError {
        DiscoveryError {
            unreachable: matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Unauthenticated),
            details: e.details,
            retryable: e.retryable,
            ..DiscoveryError::new(provider, e.message, false)
        }
    }

    /// Opening one of `provider`'s hosts failed with `e`.
    fn from_error(provider: &str, e: &MngrError) -> DiscoveryError {
        DiscoveryError {
            details: e.details.clone(),
            retryable: e.retryable,
            ..DiscoveryError::new(
                provider,
                e.message.clone(),
                e.code == ExitCode::ProviderUnavailable,
            )
        }
    }

    /// The error a command reports for it, as `message`: exit 6 when unreachable, with the
    /// provider's details and retryable.
    pub fn to_error(&self, message: impl Into<String>) -> MngrError {
        let code = if self.unreachable {
            ExitCode::ProviderUnavailable
        } else {
            ExitCode::Failure
        };
        MngrError {
            details: self.details.clone(),
            retryable: self.retryable,
            ..MngrError::new(code, message)
        }
    }
}

#[derive(Default)]
pub struct Discovery {
    pub hosts: Vec<Arc<HostView>>,
    pub agents: Vec<AgentView>,
    /// Agents whose record cannot be read: listed, never acted on.
    pub unreadable: Vec<UnreadableAgent>,
    pub errors: Vec<DiscoveryError>,
}

/// Discover hosts and agents on the given providers, all at once, waiting for every one (each
/// provider call is bounded by its `provider_timeout`).
pub fn discover(settings: &Settings, providers: &[&ProviderHandle]) -> Discovery {
    discover_until(settings, providers, |_| None)
}

/// Discover on every provider at once, each on its own thread. Once `enough` gives a wait for
/// what the providers that answered found, the others get that long more; those that still
/// have not answered are left behind with a warning.
fn discover_until(
    settings: &Settings,
    providers: &[&ProviderHandle],
    enough: impl Fn(&[&AgentView]) -> Option<Duration>,
) -> Discovery {
    let started = Instant::now();
    let settings = Arc::new(settings.clone());
    let (tx, rx) = mpsc::channel();
    for (index, provider) in providers.iter().enumerate() {
        let (provider, settings, tx) = ((*provider).clone(), settings.clone(), tx.clone());
        std::thread::spawn(move || {
            let started = Instant::now();
            let found = discover_provider(&settings, &provider);
            crate::timing::report(
                || format!("discovery on provider '{}'", provider.name),
                started,
            );
            let _ = tx.send((index, found));
        });
    }
    drop(tx);
    let mut answers: Vec<Option<Discovery>> = providers.iter().map(|_| None).collect();
    let mut deadline: Option<Instant> = None;
    let mut grace: Option<Duration> = None;
    while answers.iter().any(Option::is_none) {
        let answer = match deadline {
            None => rx.recv().ok(),
            Some(d) => rx
                .recv_timeout(d.saturating_duration_since(Instant::now()))
                .ok(),
        };
        // Every thread sent, panicked, or the wait is over.
        let Some((index, found)) = answer else { break };
        answers[index] = Some(found);
        let so_far: Vec<&AgentView> = answers.iter().flatten().flat_map(|d| &d.agents).collect();
        if deadline.is_none() {
            grace = enough(&so_far);
            deadline = grace.map(|wait| Instant::now() + wait);
        }
    }
    let mut all = Discovery::default();
    for (provider, answer) in providers.iter().zip(answers) {
        let Some(d) = answer else {
            match grace {
                // Only ids were named, and found: this provider was not needed.
                Some(Duration::ZERO) => {}
                // The check for a same-named agent went without it: say so.
                Some(_) => crate::warnings::warn(format_args!(
                    "provider '{}' has not answered after {:.1} s (its provider_timeout is {} s); not waiting for it, since every agent named was found on the providers that answered",
                    provider.name,
                    started.elapsed().as_secs_f64(),
                    crate::bounded::seconds(provider.timeout)
                )),
                None => all.errors.push(DiscoveryError::new(
                    &provider.name,
                    "discovery failed unexpectedly (a panic)",
                    false,
                )),
            }
            continue;
        };
        all.absorb(d);
    }
    all.agents.sort_by(|a, b| {
        (a.record.create_time.as_str(), a.record.name.as_str())
            .cmp(&(b.record.create_time.as_str(), b.record.name.as_str()))
    });
    all
}

fn discover_provider(settings: &Settings, provider: &ProviderHandle) -> Discovery {
    let prefix = settings.prefix.as_str();
    let mut out = Discovery::default();
    let records = match provider.instance.discover_hosts(false) {
        Ok(r) => r,
        Err(e) => {
            out.errors
                .push(DiscoveryError::from_provider(&provider.name, e));
            return out;
        }
    };
    let hosts: Vec<Discovery> = if records.len() == 1 {
        records
            .into_iter()
            .map(|r| discover_host(settings, provider, r, prefix))
            .collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = records
                .into_iter()
                .map(|r| scope.spawn(move || discover_host(settings, provider, r, prefix)))
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
    settings: &Settings,
    provider: &ProviderHandle,
    record: HostRecord,
    prefix: &str,
) -> Discovery {
    let mut out = Discovery::default();
    let mut error = None;
    // A host its provider reports abandoned holds no agents and is not connected to: it may
    // be half-made (no key, no sshd yet), and listing it must change nothing.
    if record.state == HostState::Running && record.abandoned.is_none() {
        let probed = Host::open(provider, record.clone()).and_then(|host| {
            let probe = host.probe()?;
            // `-v` of every command that observes a host says what keeps it up.
            if let Some(idle) = &probe.idle {
                crate::timing::debug(|| idle.summary(host.name()));
            }
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
                        types::is_known(&agent.agent_type, settings),
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
                    error: None,
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
                out.errors
                    .push(DiscoveryError::from_error(&provider.name, &e));
                error = Some(e);
            }
        }
    }
    // Offline (or running but unreachable): the provider's copies of the agent records. Their
    // state is known only for an offline host, not for one whose state its provider cannot
    // tell (an existing machine that does not answer).
    let state = match error {
        None if record.state != HostState::Unknown => AgentState::Stopped,
        _ => AgentState::Unknown,
    };
    let view = Arc::new(HostView {
        provider: provider.name.clone(),
        record,
        online: None,
        probe: None,
        error,
    });
    match provider.instance.persisted_agent_records(&view.record.id) {
        Ok(records) => {
            for value in records {
                let agent = match AgentRecord::from_value(value.clone().into()) {
                    Ok(agent) => agent,
                    Err(reason) => {
                        out.unreadable.push(UnreadableAgent {
                            id: value.id().unwrap_or_default().to_string(),
                            name: value.name().map(str::to_string),
                            path: format!("(provider '{}' copy)", provider.name),
                            reason,
                            host: view.clone(),
                        });
                        continue;
                    }
                };
                out.agents.push(AgentView {
                    record: agent,
                    state,
                    host: view.clone(),
                    pane_pid: None,
                });
            }
        }
        Err(e) => out
            .errors
            .push(DiscoveryError::from_provider(&provider.name, e)),
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

    /// Not found on what answered. While a provider (or one of its hosts) could not be read,
    /// the agent may be there: say so, naming it (exit 6 when it could not be reached).
    fn not_found(&self, address: &AgentAddress) -> MngrError {
        let unread: Vec<&DiscoveryError> = self
            .errors
            .iter()
            .filter(|e| address.provider.as_ref().is_none_or(|p| &e.provider == p))
            .collect();
        if let Some(first) = unread.iter().find(|e| e.unreachable).or(unread.first()) {
            let mut names: Vec<&str> = unread.iter().map(|e| e.provider.as_str()).collect();
            names.dedup();
            let (code, how) = if first.unreachable {
                (ExitCode::ProviderUnavailable, "is unreachable")
            } else {
                (ExitCode::Failure, "could not be read")
            };
            return MngrError::new(
                code,
                format!(
                    "cannot tell whether agent '{}' exists: provider '{}' {how} ({})",
                    address.agent,
                    names.join("', '"),
                    first.message
                ),
            )
            .with_hint(format!(
                "`mngr list` shows every agent and each provider's error; if '{p}' stays unreachable, set [providers.{p}] is_enabled = false",
                p = first.provider
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
/// provider) and resolve each address. `plans` are every instance of the run: those skipped as
/// unreachable are reported, since they may hold the agent.
pub fn discover_for(
    settings: &Settings,
    enabled: &[ProviderHandle],
    plans: &[InstancePlan],
    addresses: &[AgentAddress],
) -> Result<Discovery> {
    let mut names: Vec<String> = Vec::new();
    if addresses.iter().all(|a| a.provider.is_some()) {
        for a in addresses {
            let p = a.provider.clone().expect("checked");
            if !names.contains(&p) {
                names.push(p);
            }
        }
    }
    let providers = crate::instances::select(enabled, plans, &names)?;
    // Stop waiting once every address names an agent among the providers that answered.
    let mut found = discover_until(settings, &providers, |agents| {
        let all_found = addresses
            .iter()
            .all(|address| agents.iter().any(|a| Discovery::matches(a, address)));
        let ids_only = addresses.iter().all(AgentAddress::is_id);
        all_found.then_some(if ids_only {
            Duration::ZERO
        } else {
            STRAGGLER_WAIT
        })
    });
    // Instances skipped because their service was down may hold the agent too.
    for plan in plans.iter().filter(|p| p.unreachable) {
        if names.is_empty() || names.contains(&plan.name) {
            found.errors.push(DiscoveryError::new(
                &plan.name,
                plan.reason.clone().unwrap_or_default(),
                true,
            ));
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_providers_error_keeps_its_details_and_retryable_to_the_command() {
        let said = ProviderError::unavailable("daemon down")
            .with_details(serde_json::json!({"socket": "/run/docker.sock"}));
        let e = DiscoveryError::from_provider("docker", said);
        assert!(e.unreachable && e.retryable);
        let err = e.to_error("provider 'docker' unreachable: daemon down");
        assert_eq!(err.code, ExitCode::ProviderUnavailable);
        assert_eq!(
            err.details,
            serde_json::json!({"socket": "/run/docker.sock"})
        );
        assert!(err.retryable);
        let opened = MngrError::failure("host 'box': no shell").with_hint("unused");
        let e = DiscoveryError::from_error(
            "docker",
            &MngrError {
                details: "left".into(),
                ..opened
            },
        );
        assert!(!e.unreachable && !e.retryable);
        assert_eq!(e.to_error("x").details, "left");
        assert_eq!(e.to_error("x").code, ExitCode::Failure);
    }
}
