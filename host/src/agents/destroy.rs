//! The destroy policy: what `mngr destroy` removes besides the agents named, and what it
//! refuses. A host made for agents goes with its last agent; a stopped host goes with its agents
//! only when every agent on it is named and `force` is set (a stopped host cannot be checked
//! for unsaved work); without `force`, an agent whose work would be lost stops the whole
//! command before anything changes. A host its provider reports abandoned goes when named.

use super::address::AgentAddress;
use super::discovery::{AgentView, Discovery, HostView};
use super::{lifecycle, probe, workdir};
use crate::error::{ExitCode, MngrError, Result};
use crate::instances::ProviderSet;
use mngr_plugin_api::ErrorKind;

/// How destroy treats lost work and branches.
#[derive(Debug, Clone, Copy)]
pub struct DestroyOptions<'a> {
    /// Destroy also when work would be lost; an agent another command destroyed meanwhile is
    /// a skip, not an error.
    pub force: bool,
    /// Also delete the branch made for the agent.
    pub delete_branch: bool,
    /// The tmux session prefix.
    pub prefix: &'a str,
}

/// What destroy removed.
#[derive(Default)]
pub struct Destroyed<'a> {
    /// The agents, those of stopped hosts first.
    pub agents: Vec<&'a AgentView>,
    /// The names of the hosts that went.
    pub hosts: Vec<String>,
}

/// Destroy `agents` (found in `found`) and the `abandoned` hosts. `notice` hears what is
/// skipped or removed on the way, as it happens.
pub fn destroy<'a>(
    providers: ProviderSet,
    found: &'a Discovery,
    agents: Vec<&'a AgentView>,
    abandoned: &[&HostView],
    options: DestroyOptions,
    notice: &dyn Fn(String),
) -> Result<Destroyed<'a>> {
    let (offline, online): (Vec<&AgentView>, Vec<&AgentView>) =
        agents.into_iter().partition(|a| a.host.online.is_none());
    let offline_hosts = stopped_hosts_to_destroy(providers, found, &offline, options.force)?;
    // Refuse before changing anything when work would be lost.
    if !options.force {
        for agent in &online {
            refuse_lost_work(agent, options.delete_branch)?;
        }
    }
    let mut out = Destroyed::default();
    destroy_abandoned(providers, abandoned, &mut out.hosts, notice)?;
    for host in offline_hosts {
        let provider = providers.find(&host.provider)?;
        provider
            .instance
            .destroy_host(&host.record.id)
            .map_err(|e| MngrError::from_provider(&provider.name, e))?;
        for gone in offline.iter().filter(|a| a.host.record.id == host.record.id) {
            let _ = provider
                .instance
                .remove_persisted_agent_record(&host.record.id, gone.record.id.as_str());
        }
        out.hosts.push(host.name().to_string());
    }
    out.agents = offline;
    for agent in online {
        // A signal stops destroy between agents; the agent in progress is finished first.
        crate::interrupt::check()?;
        let host = agent.host.require_online()?;
        let _guard = crate::interrupt::guard();
        match lifecycle::destroy(host, agent, options.delete_branch, options.prefix) {
            Ok(()) => out.agents.push(agent),
            // Another command destroyed it meanwhile: under force that is a skip.
            Err(e) if options.force && e.code == ExitCode::NotFound => {
                notice(format!("Agent not found (skipped): {}", agent.address()));
                continue;
            }
            Err(e) => return Err(e),
        }
        let provider = providers.find(&agent.host.provider)?;
        let made_for_agents =
            provider.capabilities.create_hosts && provider.capabilities.destroy_hosts;
        if made_for_agents
            && !out.hosts.iter().any(|h| h == host.name())
            && records_left(host)? == 0
        {
            provider
                .instance
                .destroy_host(&host.record.id)
                .map_err(|e| MngrError::from_provider(&provider.name, e))?;
            out.hosts.push(host.name().to_string());
        }
    }
    Ok(out)
}

/// The stopped hosts that go with the `offline` agents named. Each needs every agent on it
/// named, a provider that destroys hosts, and `force`.
fn stopped_hosts_to_destroy<'a>(
    providers: ProviderSet,
    found: &Discovery,
    offline: &[&'a AgentView],
    force: bool,
) -> Result<Vec<&'a HostView>> {
    let mut hosts: Vec<&HostView> = Vec::new();
    for agent in offline {
        let provider = providers.find(&agent.host.provider)?;
        let named = |a: &AgentView| offline.iter().any(|o| o.record.id == a.record.id);
        let all_named = found
            .agents
            .iter()
            .filter(|a| a.host.record.id == agent.host.record.id)
            .all(named);
        if !provider.capabilities.destroy_hosts || !all_named {
            agent.host.require_reachable()?;
            return Err(MngrError::not_running(format!(
                "host '{}' of agent '{}' is {}",
                agent.host.name(),
                agent.record.name,
                agent.host.record.state.as_str()
            ))
            .with_hint(format!("start it first: mngr start {}", agent.record.name)));
        }
        if !force {
            agent.host.require_reachable()?;
            return Err(MngrError::new(
                ExitCode::UnsavedWork,
                format!(
                    "not destroying agent '{}': its host '{}' is {}, so it cannot be checked for unsaved work",
                    agent.record.name,
                    agent.host.name(),
                    agent.host.record.state.as_str()
                ),
            )
            .with_hint("start it (mngr start AGENT), or use --force to destroy the host and its agents"));
        }
        if !hosts.iter().any(|h| h.record.id == agent.host.record.id) {
            hosts.push(&agent.host);
        }
    }
    Ok(hosts)
}

/// Fail when destroying the agent would lose uncommitted or unpushed work.
fn refuse_lost_work(agent: &AgentView, delete_branch: bool) -> Result<()> {
    let host = agent.host.require_online()?;
    match workdir::unsaved_work(host, &agent.record, delete_branch)? {
        None => Ok(()),
        Some(reason) => Err(MngrError::new(
            ExitCode::UnsavedWork,
            format!("not destroying agent '{}': {reason}", agent.record.name),
        )
        .with_hint("commit and push that work first, or use --force to destroy it anyway")),
    }
}

/// Destroy hosts their provider reports abandoned; one already gone is a skip.
fn destroy_abandoned(
    providers: ProviderSet,
    abandoned: &[&HostView],
    destroyed: &mut Vec<String>,
    notice: &dyn Fn(String),
) -> Result<()> {
    for h in abandoned {
        let provider = providers.find(&h.provider)?;
        match provider.instance.destroy_host(&h.record.id) {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::NotFound => {
                notice(format!("Host not found (skipped): {}", h.name()));
                continue;
            }
            Err(e) => return Err(MngrError::from_provider(&provider.name, e)),
        }
        let why = h.record.abandoned.as_deref().unwrap_or_default();
        notice(format!("Removed abandoned host '{}': {why}", h.name()));
        destroyed.push(h.name().to_string());
    }
    Ok(())
}

/// How many agent records the host still holds. A record this version cannot read still
/// counts: its agent is not gone.
fn records_left(host: &super::host::Host) -> Result<usize> {
    let out = host.run(&probe::records_script(&host.host_dir))?;
    Ok(probe::parse(&out.stdout)
        .map(|p| p.records.len())
        .unwrap_or(1))
}

/// The host a name given to destroy names, when its provider reports it abandoned: by the
/// host's name or id (and provider, when the address names one).
pub fn abandoned_host<'a>(found: &'a Discovery, raw: &str) -> Option<&'a HostView> {
    let address = AgentAddress::parse(raw).ok()?;
    found.hosts.iter().map(AsRef::as_ref).find(|h| {
        h.record.abandoned.is_some()
            && (h.name() == address.agent || h.record.id.as_str() == address.agent)
            && address.provider.as_ref().is_none_or(|p| &h.provider == p)
    })
}
