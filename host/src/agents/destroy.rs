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
        for gone in offline
            .iter()
            .filter(|a| a.host.record.id == host.record.id)
        {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::fakes::{self, MemoryProvider};
    use crate::agents::record::AgentRecord;
    use crate::instances::ProviderHandle;
    use mngr_plugin_api::{HostRecord, HostState};
    use std::cell::RefCell;
    use std::path::Path;
    use std::sync::Arc;

    /// The agents and hosts a destroy removed, by name.
    type NamesAndHosts = (Vec<String>, Vec<String>);

    /// A provider (docker-like when it `makes_hosts`, else local-like) in a temp dir.
    struct World {
        _dir: tempfile::TempDir,
        provider: Arc<MemoryProvider>,
        handles: Vec<ProviderHandle>,
    }

    fn world(makes_hosts: bool) -> World {
        let dir = tempfile::tempdir().unwrap();
        let caps = fakes::capabilities(|c| {
            c.create_hosts = makes_hosts;
            c.destroy_hosts = makes_hosts;
            c.stop_start = makes_hosts;
        });
        let provider = MemoryProvider::new("p", caps, &dir.path().join("hosts"));
        let handles = vec![fakes::handle("p", &provider)];
        World {
            _dir: dir,
            provider,
            handles,
        }
    }

    impl World {
        /// An agent on `host` whose work dir (in the host dir, as mngr makes them) `mode` made.
        fn agent(&self, host: &HostRecord, name: &str, mode: &str) -> AgentRecord {
            let work_dir = Path::new(&host.host_dir).join("work").join(name);
            std::fs::create_dir_all(&work_dir).unwrap();
            let record = fakes::agent_record(name, &work_dir.to_string_lossy(), mode);
            fakes::open(&self.handles[0], host.clone())
                .write_agent_record(&record)
                .unwrap();
            record
        }

        /// Destroy the agents named (all of `found`'s with these names); returns the result
        /// and what destroy noticed on the way.
        fn destroy(&self, names: &[&str], force: bool) -> (Result<NamesAndHosts>, Vec<String>) {
            let found = fakes::discover(&self.handles[0]);
            let agents = found
                .agents
                .iter()
                .filter(|a| names.contains(&a.record.name.as_str()))
                .collect();
            let notes = RefCell::new(Vec::new());
            let options = DestroyOptions {
                force,
                delete_branch: false,
                prefix: "mngr-",
            };
            let result = destroy(
                fakes::provider_set(&self.handles),
                &found,
                agents,
                &[],
                options,
                &|n| notes.borrow_mut().push(n),
            )
            .map(|d| {
                let names = d.agents.iter().map(|a| a.record.name.clone()).collect();
                (names, d.hosts)
            });
            (result, notes.into_inner())
        }
    }

    fn record_exists(host: &HostRecord, agent: &AgentRecord) -> bool {
        Path::new(&host.host_dir)
            .join("agents")
            .join(agent.id.as_str())
            .join("data.json")
            .exists()
    }

    #[test]
    fn the_last_agent_of_a_host_made_for_agents_takes_the_host_along() {
        let w = world(true);
        let host = w.provider.add_host("box", HostState::Running);
        let agent = w.agent(&host, "fixer", "in_place");
        let (result, _) = w.destroy(&["fixer"], false);
        let (agents, hosts) = result.unwrap();
        assert_eq!(
            (agents, hosts),
            (vec!["fixer".to_string()], vec!["box".to_string()])
        );
        assert!(!record_exists(&host, &agent));
        assert_eq!(w.provider.calls(), ["destroy box"]);
    }

    #[test]
    fn a_host_keeping_other_agents_stays() {
        let w = world(true);
        let host = w.provider.add_host("box", HostState::Running);
        let fixer = w.agent(&host, "fixer", "in_place");
        let helper = w.agent(&host, "helper", "in_place");
        let (agents, hosts) = w.destroy(&["fixer"], false).0.unwrap();
        assert_eq!(agents, ["fixer"]);
        assert!(hosts.is_empty(), "{hosts:?}");
        assert!(!record_exists(&host, &fixer) && record_exists(&host, &helper));
        assert!(w.provider.calls().is_empty(), "{:?}", w.provider.calls());
    }

    #[test]
    fn a_host_its_provider_did_not_make_stays_without_agents() {
        let w = world(false);
        let host = w.provider.add_host("localhost", HostState::Running);
        w.agent(&host, "fixer", "in_place");
        let (agents, hosts) = w.destroy(&["fixer"], false).0.unwrap();
        assert_eq!(agents, ["fixer"]);
        assert!(hosts.is_empty());
        assert_eq!(w.provider.host_names(), ["localhost"]);
    }

    /// A copied git repository with an uncommitted file, as the agent's work dir.
    fn dirty_copy(w: &World, host: &HostRecord, name: &str) -> AgentRecord {
        let agent = w.agent(host, name, "copy");
        let git = |args: &[&str]| {
            let ok = std::process::Command::new("git")
                .args(args)
                .current_dir(&agent.work_dir)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(Path::new(&agent.work_dir).join("notes.txt"), "unsaved").unwrap();
        agent
    }

    #[test]
    fn lost_work_refuses_every_destroy_unless_forced() {
        let w = world(true);
        let host = w.provider.add_host("box", HostState::Running);
        let clean = w.agent(&host, "clean", "in_place");
        let dirty = dirty_copy(&w, &host, "dirty");
        let err = w.destroy(&["clean", "dirty"], false).0.err().unwrap();
        assert_eq!(err.code, ExitCode::UnsavedWork, "{err:?}");
        assert!(
            err.message.contains("uncommitted change"),
            "{}",
            err.message
        );
        // Refused before anything changed: the clean agent is still there too.
        assert!(record_exists(&host, &clean) && record_exists(&host, &dirty));

        let (agents, hosts) = w.destroy(&["clean", "dirty"], true).0.unwrap();
        assert_eq!(agents.len(), 2);
        assert_eq!(hosts, ["box"]);
        assert!(!record_exists(&host, &dirty));
    }

    /// A host with these agents, then stopped (its agents known from the provider's copies).
    fn stopped_host(w: &World, agents: &[&str]) -> HostRecord {
        let host = w.provider.add_host("box", HostState::Running);
        for name in agents {
            w.agent(&host, name, "in_place");
        }
        w.provider
            .update(&host.id, |h| h.state = HostState::Stopped);
        host
    }

    #[test]
    fn a_stopped_host_goes_with_all_its_agents_only_when_forced() {
        let w = world(true);
        stopped_host(&w, &["fixer", "helper"]);
        let err = w.destroy(&["fixer", "helper"], false).0.err().unwrap();
        assert_eq!(err.code, ExitCode::UnsavedWork, "{err:?}");
        assert!(err.message.contains("cannot be checked"), "{}", err.message);
        assert!(w.provider.calls().is_empty());

        let (agents, hosts) = w.destroy(&["fixer", "helper"], true).0.unwrap();
        assert_eq!((agents.len(), hosts), (2, vec!["box".to_string()]));
        assert_eq!(w.provider.calls(), ["destroy box"]);
    }

    #[test]
    fn a_stopped_host_with_an_agent_not_named_must_be_started_first() {
        let w = world(true);
        stopped_host(&w, &["fixer", "helper"]);
        let err = w.destroy(&["fixer"], true).0.err().unwrap();
        assert_eq!(err.code, ExitCode::NotRunning, "{err:?}");
        assert!(err.hint.unwrap_or_default().contains("mngr start fixer"));
        assert!(w.provider.calls().is_empty());
    }

    #[test]
    fn a_named_abandoned_host_is_destroyed_and_said_so() {
        let w = world(true);
        let host = w.provider.add_host("half", HostState::Running);
        w.provider.update(&host.id, |h| {
            h.abandoned = Some("a create was killed".into())
        });
        let found = fakes::discover(&w.handles[0]);
        let abandoned = abandoned_host(&found, "half").expect("named by its name");
        assert!(abandoned_host(&found, "half.other").is_none());
        let notes = RefCell::new(Vec::new());
        let options = DestroyOptions {
            force: true,
            delete_branch: false,
            prefix: "mngr-",
        };
        let set = fakes::provider_set(&w.handles);
        let out = destroy(set, &found, Vec::new(), &[abandoned], options, &|n| {
            notes.borrow_mut().push(n)
        })
        .unwrap();
        assert_eq!(out.hosts, ["half"]);
        assert_eq!(
            notes.into_inner(),
            ["Removed abandoned host 'half': a create was killed"]
        );
        // Gone meanwhile (another mngr finished it): a skip.
        let notes = RefCell::new(Vec::new());
        let out = destroy(set, &found, Vec::new(), &[abandoned], options, &|n| {
            notes.borrow_mut().push(n)
        })
        .unwrap();
        assert!(out.hosts.is_empty());
        assert_eq!(notes.into_inner(), ["Host not found (skipped): half"]);
    }
}
