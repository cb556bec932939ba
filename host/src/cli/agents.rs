//! The agent commands: create, list, connect, exec, message, capture, stop, start, destroy,
//! rename, forward, rsync, git, label, limit and gc. Each lives in its own module under `cli/agents/`; this module holds
//! the subcommand enum and what they share (reading targets, resolving them).

use crate::agents::address::AgentAddress;
use crate::agents::discovery::{self, AgentView, Discovery, HostView};
use crate::app::App;
use crate::error::{MngrError, Result};
use crate::run_options::RunOptions;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};

pub mod create;
pub mod edit;
pub mod forward;
pub mod gc;
pub mod host_tags;
pub mod interact;
pub mod lifecycle;
pub mod limit;
pub mod list;
pub mod provider_flags;
pub mod sync;

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Create an agent: a work dir, a tmux session running its command, and its records
    #[command(visible_alias = "c")]
    // Boxed: its arguments are far larger than every other command's.
    Create(Box<create::CreateArgs>),
    /// List agents on every enabled provider
    #[command(visible_alias = "ls")]
    List(list::ListArgs),
    /// Attach your terminal to an agent's tmux session
    #[command(visible_alias = "conn")]
    Connect(interact::ConnectArgs),
    /// Run a shell command in agents' work dirs, with their environment
    #[command(visible_alias = "x")]
    Exec(interact::ExecArgs),
    /// Type a message into agents (as if typed, followed by Enter)
    #[command(visible_alias = "msg")]
    Message(interact::MessageArgs),
    /// Print what an agent's pane shows (--full: with scrollback)
    Capture(interact::CaptureArgs),
    /// Stop agents: end their processes and tmux sessions, keep their records and work dirs
    Stop(lifecycle::StopArgs),
    /// Start stopped agents again (idempotent)
    Start(lifecycle::StartArgs),
    /// Destroy agents: stop them and remove their records and the work dirs mngr made
    #[command(visible_alias = "rm")]
    Destroy(lifecycle::DestroyArgs),
    /// Rename an agent
    #[command(visible_alias = "mv")]
    Rename(edit::RenameArgs),
    /// Forward ports between this machine and an agent's host until interrupted
    #[command(visible_alias = "fwd")]
    Forward(forward::ForwardArgs),
    /// Copy files between this machine and an agent's host (rsync, pinned host key)
    Rsync(sync::RsyncArgs),
    /// Move commits between the repository here and an agent's work dir
    #[command(subcommand)]
    Git(sync::GitCommand),
    /// Add or change labels (KEY=VALUE) of agents, or the tags of their hosts
    Label(edit::LabelArgs),
    /// Change the idle timeout, idle mode or activity sources of a running host
    Limit(limit::LimitArgs),
    /// Remove what crashed or interrupted commands left: orphaned work dirs, records, sessions
    Gc(gc::GcArgs),
}

pub fn run(global: &RunOptions, cmd: AgentCommand) -> Result<()> {
    match cmd {
        AgentCommand::Create(args) => create::run(global, *args),
        AgentCommand::List(args) => list::run(global, args),
        AgentCommand::Connect(args) => interact::connect(global, args),
        AgentCommand::Exec(args) => interact::exec(global, args),
        AgentCommand::Message(args) => interact::message(global, args),
        AgentCommand::Capture(args) => interact::capture(global, args),
        AgentCommand::Stop(args) => lifecycle::stop(global, args),
        AgentCommand::Start(args) => lifecycle::start(global, args),
        AgentCommand::Destroy(args) => lifecycle::destroy(global, args),
        AgentCommand::Rename(args) => edit::rename(global, args),
        AgentCommand::Forward(args) => forward::run(global, args),
        AgentCommand::Rsync(args) => sync::rsync(global, args),
        AgentCommand::Git(command) => sync::git(global, command),
        AgentCommand::Label(args) => edit::label(global, args),
        AgentCommand::Limit(args) => limit::run(global, args),
        AgentCommand::Gc(args) => gc::run(global, args),
    }
}

/// The agent addresses a command names: positionals (where one `-` reads more, one per line,
/// from stdin) plus repeated `--agent` values.
pub fn read_targets(positional: &[String], extra: &[String]) -> Result<Vec<String>> {
    let dashes = positional.iter().filter(|p| p.as_str() == "-").count();
    if dashes > 1 {
        return Err(MngrError::usage(
            "'-' (read agents from stdin) may be given only once",
        ));
    }
    let mut out = Vec::new();
    for p in positional.iter().chain(extra) {
        if p == "-" {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                return Err(MngrError::usage(
                    "'-' reads agent names from stdin, but stdin is a terminal",
                )
                .with_hint("pipe names in, for example: mngr list --ids | mngr stop -"));
            }
            for line in stdin.lock().lines() {
                let line = line?;
                let line = line.trim();
                if !line.is_empty() {
                    out.push(line.to_string());
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Parse addresses, discover what they need and resolve each to one agent (indices into
/// `discovery.agents`, deduplicated, in the order given).
pub fn resolve(app: &App, raw: &[String]) -> Result<(Discovery, Vec<usize>)> {
    let (found, indices, _) = resolve_some(app, raw, false)?;
    Ok((found, indices))
}

/// Like [`resolve`], from one discovery; with `skip_missing`, an address that names no agent
/// is returned among the missing instead of failing the whole command.
pub fn resolve_some(
    app: &App,
    raw: &[String],
    skip_missing: bool,
) -> Result<(Discovery, Vec<usize>, Vec<String>)> {
    let addresses: Vec<AgentAddress> = raw
        .iter()
        .map(|r| AgentAddress::parse(r))
        .collect::<Result<_>>()?;
    let found = discovery::discover_for(&app.settings, &app.providers, &app.instances, &addresses)?;
    let mut indices = Vec::new();
    let mut missing = Vec::new();
    for (address, text) in addresses.iter().zip(raw) {
        let agent = match found.resolve(address) {
            Ok(agent) => agent,
            Err(e) if skip_missing && e.code == crate::error::ExitCode::NotFound => {
                missing.push(text.clone());
                continue;
            }
            Err(e) => return Err(e),
        };
        let index = found
            .agents
            .iter()
            .position(|a| std::ptr::eq(a, agent))
            .expect("resolved from this list");
        if !indices.contains(&index) {
            indices.push(index);
        }
    }
    Ok((found, indices, missing))
}

/// `KEY=VALUE` from a flag.
pub fn parse_key_value(flag: &str, raw: &str) -> Result<(String, String)> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(MngrError::usage(format!(
            "invalid {flag} '{raw}': expected KEY=VALUE"
        ))),
    }
}

/// The host of an agent, as each agent row carries it.
pub fn host_json(host: &HostView) -> serde_json::Value {
    let record = &host.record;
    let mut json = serde_json::json!({
        "id": record.id,
        "name": record.name,
        "provider_name": host.provider,
        "state": record.state.as_str(),
        "image": record.image,
        "tags": record.tags,
    });
    if let Some(map) = json.as_object_mut() {
        map.extend(host_idle_fields(host));
    }
    json
}

/// What a host row says about idleness and stopping: the idle settings and the activity that
/// last counted (running hosts), why it stopped (from the provider's record), and the
/// provider's own facts (`details`).
pub fn host_idle_fields(host: &HostView) -> serde_json::Map<String, serde_json::Value> {
    let record = &host.record;
    let mut out = match host.probe.as_ref().and_then(|p| p.idle.as_ref()) {
        Some(idle) => idle.host_fields(),
        None => serde_json::Map::new(),
    };
    out.insert(
        "stop_reason".into(),
        serde_json::json!(record.stop_reason.as_ref().map(|r| r.as_str())),
    );
    out.insert(
        "stopped_because".into(),
        serde_json::json!(crate::agents::idle::stopped_because(record)),
    );
    out.insert(
        "failure_reason".into(),
        serde_json::json!(record.failure_reason),
    );
    out.insert("details".into(), serde_json::json!(record.details));
    out
}

/// One agent as list and other commands print it.
pub fn agent_json(agent: &AgentView) -> serde_json::Value {
    agent_json_with_host(agent, host_json(&agent.host))
}

/// [`agent_json`] with its host's row made already (a listing makes each host's once).
pub fn agent_json_with_host(agent: &AgentView, host: serde_json::Value) -> serde_json::Value {
    let r = &agent.record;
    let mut json = serde_json::json!({
        "resource_type": "agent",
        "id": r.id,
        "name": r.name,
        "address": agent.address(),
        "type": r.agent_type,
        "command": r.command,
        "work_dir": r.work_dir,
        "initial_branch": r.created_branch_name,
        "create_time": r.create_time,
        "start_on_boot": r.start_on_boot,
        "state": agent.state.as_str(),
        "pid": agent.pane_pid,
        "labels": r.labels,
        "host": host,
    });
    if let (Some(map), Some(idle)) = (
        json.as_object_mut(),
        agent.host.probe.as_ref().and_then(|p| p.idle.as_ref()),
    ) {
        map.extend(idle.agent_fields(r.id.as_str()));
    }
    json
}

/// Print one JSON value on stdout.
pub fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializes")
    );
}

pub fn print_jsonl(value: &serde_json::Value) {
    println!("{}", serde_json::to_string(value).expect("serializes"));
}

/// Load the app for an agent command.
pub fn load(global: &RunOptions) -> Result<App> {
    App::load(global)
}
