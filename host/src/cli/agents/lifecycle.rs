//! `mngr stop`, `mngr start`, `mngr destroy`.

use super::{print_json, print_jsonl, read_targets, resolve, resolve_some};
use crate::agents::destroy::{self as agent_destroy, DestroyOptions};
use crate::agents::discovery::{AgentView, Discovery, HostView};
use crate::agents::host::Host;
use crate::agents::lifecycle::{self, session_name};
use crate::app::App;
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{OutputFormat, render_template};
use crate::run_options::RunOptions;
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr stop fixer
  mngr list --running --ids | mngr stop -")]
pub struct StopArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub more: Vec<String>,
    /// Print what would be stopped, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also stop the agents' hosts through their provider (docker: the container stops and
    /// keeps its filesystem; `mngr start` brings it back)
    #[arg(long)]
    pub stop_host: bool,
}

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub more: Vec<String>,
    /// Stop running agents first, then start them
    #[arg(long)]
    pub restart: bool,
    /// Start the agents' host from this snapshot (id or name; see `mngr snapshot list`),
    /// replacing its current filesystem
    #[arg(long, value_name = "ID")]
    pub snapshot: Option<String>,
    /// Print what would be started, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Without --force, destroy refuses an agent whose work dir holds uncommitted changes, or
commits that exist nowhere else, and says which (exit code 14). Of several destroys of one
agent at once, one destroys it; the others say it is already gone (exit code 9).
With --force, a name that is no agent's but a host's its provider reports abandoned (a create
killed before its first agent) destroys that host.

Examples:
  mngr destroy fixer
  mngr destroy fixer -f -b        also when work would be lost, and delete branch mngr/fixer")]
pub struct DestroyArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub more: Vec<String>,
    /// Destroy even when uncommitted or unpushed work would be lost; skip agents not found
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Also delete the git branch made for the agent (mngr/NAME)
    #[arg(short = 'b', long)]
    pub remove_created_branch: bool,
    /// Print what would be destroyed, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

fn targets(agents: &[String], more: &[String]) -> Result<Vec<String>> {
    let t = read_targets(agents, more)?;
    if t.is_empty() && !agents.iter().any(|a| a == "-") {
        return Err(MngrError::usage(
            "name at least one agent (or '-' to read names from stdin)",
        ));
    }
    Ok(t)
}

/// Settings, providers and the named agents; `None` when stdin named none.
fn load_targets(
    global: &RunOptions,
    agents: &[String],
    more: &[String],
) -> Result<Option<(App, Discovery, Vec<usize>)>> {
    let targets = targets(agents, more)?;
    if targets.is_empty() {
        return Ok(None);
    }
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, &targets)?;
    Ok(Some((app, found, idx)))
}

/// What `--dry-run` prints: one line per agent that would be acted on.
fn print_dry_run(verb: &str, agents: &[&AgentView]) {
    for a in agents {
        println!("Would {verb} agent: {}", a.address());
    }
}

/// Print the names a command acted on, in the chosen format.
fn report(
    global: &RunOptions,
    verb: &str,
    key: &str,
    event: &str,
    agents: &[&AgentView],
    extra: serde_json::Value,
) {
    let format = OutputFormat::parse(&global.format);
    let names: Vec<&str> = agents.iter().map(|a| a.record.name.as_str()).collect();
    match &format {
        OutputFormat::Human => {
            if !global.quiet {
                for a in agents {
                    println!("{verb} agent: {}", a.address());
                }
            }
        }
        OutputFormat::Json | OutputFormat::Jsonl => {
            let mut v = serde_json::json!({ key: names, "count": names.len() });
            if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
                obj.extend(more.clone());
            }
            if format == OutputFormat::Json {
                print_json(&v);
            } else {
                v["event"] = event.into();
                print_jsonl(&v);
            }
        }
        OutputFormat::Template(t) => {
            for a in agents {
                println!("{}", render_template(t, &super::agent_json(a)));
            }
        }
    }
}

pub fn stop(global: &RunOptions, args: StopArgs) -> Result<()> {
    let Some((app, found, idx)) = load_targets(global, &args.agents, &args.more)? else {
        return Ok(());
    };
    let agents: Vec<&AgentView> = idx.iter().map(|&i| &found.agents[i]).collect();
    if args.dry_run {
        print_dry_run("stop", &agents);
        return Ok(());
    }
    // Refuse --stop-host up front where a provider cannot stop hosts, before stopping anything.
    if args.stop_host {
        for agent in &agents {
            let provider = app.provider(&agent.host.provider)?;
            if !provider.capabilities.stop_start {
                return Err(MngrError::new(
                    ExitCode::Unsupported,
                    format!(
                        "provider '{}' cannot stop its hosts (host '{}')",
                        provider.name,
                        agent.host.name()
                    ),
                )
                .with_hint("stop the agents without --stop-host"));
            }
        }
    }
    for agent in &agents {
        let host = agent.host.require_online()?;
        let _lock = host.lock()?;
        lifecycle::stop(host, agent, &app.settings.prefix)?;
    }
    let mut stopped_hosts: Vec<String> = Vec::new();
    if args.stop_host {
        for agent in &agents {
            let id = agent.host.record.id.to_string();
            if stopped_hosts.contains(&id) {
                continue;
            }
            let provider = app.provider(&agent.host.provider)?;
            // The host's other agents go down with it: stop them cleanly first.
            for other in found.agents.iter().filter(|a| {
                a.host.record.id == agent.host.record.id
                    && !agents.iter().any(|t| t.record.id == a.record.id)
            }) {
                if let Some(host) = &other.host.online {
                    let _lock = host.lock()?;
                    lifecycle::stop(host, other, &app.settings.prefix)?;
                }
            }
            if let Some(host) = &agent.host.online {
                lifecycle::record_user_stop(host);
            }
            provider
                .instance
                .stop_host(&agent.host.record.id)
                .map_err(|e| MngrError::from_provider(&provider.name, e))?;
            stopped_hosts.push(id);
        }
    }
    report(
        global,
        "Stopped",
        "stopped_agents",
        "stop_result",
        &agents,
        serde_json::json!({"stopped_hosts": stopped_hosts}),
    );
    Ok(())
}

pub fn start(global: &RunOptions, args: StartArgs) -> Result<()> {
    let Some((app, found, idx)) = load_targets(global, &args.agents, &args.more)? else {
        return Ok(());
    };
    let agents: Vec<&AgentView> = idx.iter().map(|&i| &found.agents[i]).collect();
    if args.dry_run {
        print_dry_run("start", &agents);
        return Ok(());
    }
    for agent in &agents {
        agent.host.require_reachable()?;
    }
    let mut host_started = false;
    let mut restored: Vec<(mngr_plugin_api::HostId, Host)> = Vec::new();
    if let Some(snapshot) = &args.snapshot {
        // Each distinct host is started from the snapshot once, before its agents start.
        for agent in &agents {
            if restored.iter().any(|(id, _)| *id == agent.host.record.id) {
                continue;
            }
            let provider = app.provider(&agent.host.provider)?;
            if !provider.capabilities.snapshots {
                return Err(MngrError::new(
                    ExitCode::Unsupported,
                    format!("provider '{}' does not support snapshots", provider.name),
                ));
            }
            let record = provider
                .instance
                .start_host(&agent.host.record.id, Some(snapshot))
                .map_err(|e| MngrError::from_provider(&provider.name, e))?;
            host_started = true;
            restored.push((record.id.clone(), Host::open(provider, record)?));
        }
    }
    for agent in &agents {
        // A stopped host comes back first (where its provider can start hosts).
        let reopened;
        let host: &Host = match restored.iter().find(|(id, _)| *id == agent.host.record.id) {
            Some((_, h)) => h,
            None => match &agent.host.online {
                Some(h) => h,
                None => {
                    let provider = app.provider(&agent.host.provider)?;
                    let record = crate::agents::placement::ensure_running(
                        provider,
                        agent.host.record.clone(),
                    )?;
                    host_started = true;
                    reopened = Host::open(provider, record)?;
                    &reopened
                }
            },
        };
        let _lock = host.lock()?;
        let mut record = host
            .read_agent_record(agent.record.id.as_str())?
            .ok_or_else(|| {
                MngrError::not_found(format!(
                    "agent '{}' has no record on host '{}'",
                    agent.record.name,
                    host.name()
                ))
            })?;
        lifecycle::adopt_offline_labels(host, agent, &mut record)?;
        let was_restored = restored.iter().any(|(id, _)| *id == agent.host.record.id);
        if args.restart && agent.pane_pid.is_some() && !was_restored {
            lifecycle::stop(host, agent, &app.settings.prefix)?;
        }
        lifecycle::start_session(
            host,
            &record,
            &session_name(&app.settings.prefix, &record.name),
        )?;
    }
    report(
        global,
        "Started",
        "started_agents",
        "start_result",
        &agents,
        serde_json::json!({"was_host_started": host_started}),
    );
    Ok(())
}

pub fn destroy(global: &RunOptions, args: DestroyArgs) -> Result<()> {
    let targets = targets(&args.agents, &args.more)?;
    if targets.is_empty() {
        return Ok(());
    }
    let app = super::load(global)?;
    // Under --force a name that is not found is reported, not fatal.
    let (found, idx, missing) = resolve_some(&app, &targets, args.force)?;
    // A name that is no agent's may be a host's that its provider reports abandoned (a docker
    // create killed before its first agent leaves a host named after it): that host goes.
    let (abandoned, missing): (Vec<String>, Vec<String>) = missing
        .into_iter()
        .partition(|name| agent_destroy::abandoned_host(&found, name).is_some());
    for name in &missing {
        eprintln!("Agent not found (skipped): {name}");
    }
    if idx.is_empty() && abandoned.is_empty() {
        report(
            global,
            "Destroyed",
            "destroyed_agents",
            "destroy_result",
            &[],
            serde_json::json!({"destroyed_hosts": []}),
        );
        return Ok(());
    }
    let agents: Vec<&AgentView> = idx.iter().map(|&i| &found.agents[i]).collect();
    let abandoned: Vec<&HostView> = abandoned
        .iter()
        .filter_map(|name| agent_destroy::abandoned_host(&found, name))
        .collect();
    if args.dry_run {
        print_dry_run("destroy", &agents);
        for h in &abandoned {
            println!("Would destroy host: {} ({})", h.name(), h.record.id);
        }
        return Ok(());
    }
    let destroyed = agent_destroy::destroy(
        app.provider_set(),
        &found,
        agents,
        &abandoned,
        DestroyOptions {
            force: args.force,
            delete_branch: args.remove_created_branch,
            prefix: &app.settings.prefix,
        },
        &|notice| eprintln!("{notice}"),
    )?;
    report(
        global,
        "Destroyed",
        "destroyed_agents",
        "destroy_result",
        &destroyed.agents,
        serde_json::json!({"destroyed_hosts": destroyed.hosts}),
    );
    if OutputFormat::parse(&global.format) == OutputFormat::Human && !global.quiet {
        for h in &destroyed.hosts {
            println!("Destroyed host: {h}");
        }
    }
    Ok(())
}
