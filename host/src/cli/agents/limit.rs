//! `mngr limit`: change the idle timeout, idle mode or activity sources of a running host.

use super::{print_json, print_jsonl, resolve};
use crate::agents::address::HostAddress;
use crate::agents::host::Host;
use crate::agents::hosts;
use crate::agents::idle;
use crate::agents::limits::{self, LimitChange};
use crate::error::{MngrError, Result};
use crate::output::OutputFormat;
use crate::run_options::RunOptions;
use clap::Args;

#[derive(Debug, Args)]
#[command(
    group = clap::ArgGroup::new("changes").required(true).multiple(true)
        .args(["idle_timeout", "idle_mode", "activity_sources", "add", "remove"]),
    after_help = "\
TARGET is an agent (its host is changed) or, with --host, a host (HOST[.PROVIDER] or its id).
The host must be running; its activity watcher takes the new settings on its next check, so
nothing restarts. Hosts that never shut down when idle (local) refuse with exit code 10.
See docs/idle.md.

Examples:
  mngr limit fixer --idle-timeout 2h
  mngr limit --host box.docker --idle-mode agent
  mngr limit fixer --add-activity-source process --remove-activity-source ssh"
)]
pub struct LimitArgs {
    /// The agent whose host to change: NAME[@HOST[.PROVIDER]] or its id (with --host: a host)
    pub target: String,
    /// TARGET names a host, not an agent
    #[arg(long)]
    pub host: bool,
    /// Stop the host after this long without activity (seconds, or 90s, 10m, 1h30m, 7d)
    #[arg(long, value_name = "DURATION",
          value_parser = crate::duration::flag_parser(crate::duration::IDLE_TIMEOUT))]
    pub idle_timeout: Option<std::time::Duration>,
    /// What keeps the host up: io, user, agent, ssh, create, boot, start, run or disabled
    #[arg(long, value_name = "MODE", conflicts_with = "activity_sources")]
    pub idle_mode: Option<String>,
    /// Exactly these activity sources, comma-separated: user, agent, ssh, create, start, boot, process
    #[arg(long, value_name = "SOURCES")]
    pub activity_sources: Option<String>,
    /// Also count this activity source (repeatable)
    #[arg(long = "add-activity-source", value_name = "SOURCE")]
    pub add: Vec<String>,
    /// No longer count this activity source (repeatable)
    #[arg(long = "remove-activity-source", value_name = "SOURCE")]
    pub remove: Vec<String>,
}

fn change_of(args: &LimitArgs) -> Result<LimitChange> {
    let sources = match (&args.idle_mode, &args.activity_sources) {
        (Some(mode), _) => Some(idle::sources_of_mode(mode)?),
        (None, Some(list)) => Some(idle::parse_sources(list)?),
        (None, None) => None,
    };
    let each = |names: &[String]| -> Result<Vec<_>> {
        names.iter().map(|n| idle::parse_source(n)).collect()
    };
    Ok(LimitChange {
        idle_timeout_seconds: args.idle_timeout.map(|d| d.as_secs()),
        sources,
        add_sources: each(&args.add)?,
        remove_sources: each(&args.remove)?,
    })
}

pub fn run(global: &RunOptions, args: LimitArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("limit")?;
    let change = change_of(&args)?;
    let app = super::load(global)?;
    let prefix = app.settings.prefix.clone();
    let apply = |host: &Host, can_stop: bool| limits::limit(host, can_stop, &prefix, &change);
    let (host_name, host_id, provider, limits) = if args.host {
        let address = HostAddress::parse(&args.target)?;
        let (handle, record) = hosts::find(app.provider_set(), &address)?;
        if record.state != mngr_plugin_api::HostState::Running {
            return Err(MngrError::not_running(format!(
                "host '{}' of provider '{}' is {}",
                record.name,
                handle.name,
                record.state.as_str()
            ))
            .with_hint("start it first: mngr start AGENT; limit changes running hosts"));
        }
        let host = Host::open(handle, record)?;
        let limits = apply(&host, handle.capabilities.stop_start)?;
        (
            host.name().to_string(),
            host.record.id.clone(),
            handle.name.clone(),
            limits,
        )
    } else {
        let (found, idx) = resolve(&app, std::slice::from_ref(&args.target))?;
        let agent = &found.agents[idx[0]];
        let host = agent.host.require_online()?;
        let can_stop = app
            .provider_set()
            .find(&host.provider)
            .map(|p| p.capabilities.stop_start)
            .unwrap_or(false);
        let limits = apply(host, can_stop)?;
        (
            host.name().to_string(),
            host.record.id.clone(),
            host.provider.clone(),
            limits,
        )
    };
    let sources: Vec<String> = limits
        .activity_sources
        .iter()
        .map(|s| s.as_str().to_ascii_lowercase())
        .collect();
    let v = serde_json::json!({
        "host_name": host_name,
        "host_id": host_id,
        "provider": provider,
        "idle_mode": limits.idle_mode,
        "idle_timeout_seconds": limits.idle_timeout_seconds,
        "activity_sources": sources,
    });
    match format {
        OutputFormat::Json => print_json(&v),
        OutputFormat::Jsonl => {
            let mut v = v;
            v["event"] = "limit_result".into();
            print_jsonl(&v);
        }
        _ if global.quiet => {}
        _ => println!(
            "Limits of host '{host_name}': idle mode {}, stops after {} s idle, activity sources: {}",
            limits.idle_mode,
            limits.idle_timeout_seconds,
            if sources.is_empty() {
                "none".to_string()
            } else {
                sources.join(", ")
            }
        ),
    }
    Ok(())
}
