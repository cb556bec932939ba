//! `mngr rename` and `mngr label`.

use super::host_tags;
use super::{parse_key_value, print_json, print_jsonl, read_targets, resolve};
use crate::agents::address::HostAddress;
use crate::agents::{hosts, lifecycle};
use crate::error::{MngrError, Result};
use crate::output::OutputFormat;
use crate::run_options::RunOptions;
use clap::Args;
use mngr_plugin_api::HostName;
use std::collections::BTreeMap;

#[derive(Debug, Args)]
#[command(after_help = "\
With --host, CURRENT names a host (HOST[.PROVIDER] or its id) and its provider renames it; its
agents keep their names and follow it (NAME@NEW_NAME). Providers that cannot rename hosts
(local) refuse with exit code 10.

Examples:
  mngr rename fixer fixer2
  mngr rename --host box.docker build-box")]
pub struct RenameArgs {
    /// The agent: NAME[@HOST[.PROVIDER]] or its id (with --host: HOST[.PROVIDER] or its id)
    pub current: String,
    /// Its new name
    pub new_name: String,
    /// Rename a host instead of an agent
    #[arg(long)]
    pub host: bool,
    /// Print what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn rename(global: &RunOptions, args: RenameArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("rename")?;
    if args.host {
        return rename_host(global, &format, args);
    }
    mngr_plugin_api::validate_new_agent_name(&args.new_name)
        .map_err(|e| MngrError::usage(e.to_string()))?;
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, std::slice::from_ref(&args.current))?;
    let agent = &found.agents[idx[0]];
    let old = agent.record.name.clone();
    if old == args.new_name {
        if !global.quiet && format == OutputFormat::Human {
            println!("Agent already named: {old}");
        }
        return Ok(());
    }
    if args.dry_run {
        println!("Would rename agent: {old} -> {}", args.new_name);
        return Ok(());
    }
    let host = agent.host.require_online()?;
    let record = lifecycle::rename(host, agent, &args.new_name, &app.settings.prefix)?;
    let v = serde_json::json!({"old_name": old, "new_name": record.name, "agent_id": record.id});
    match format {
        OutputFormat::Json => print_json(&v),
        OutputFormat::Jsonl => {
            let mut v = v;
            v["event"] = "rename_result".into();
            print_jsonl(&v);
        }
        _ => {
            if !global.quiet {
                println!("Renamed agent: {old} -> {}", record.name);
            }
        }
    }
    Ok(())
}

/// `mngr rename --host CURRENT NEW_NAME`.
fn rename_host(global: &RunOptions, format: &OutputFormat, args: RenameArgs) -> Result<()> {
    let address = HostAddress::parse(&args.current)?;
    HostName::parse(&args.new_name).map_err(|e| MngrError::usage(e.to_string()))?;
    let app = super::load(global)?;
    if args.dry_run {
        let (_, record) = hosts::renamable(app.provider_set(), &address)?;
        println!("Would rename host: {} -> {}", record.name, args.new_name);
        return Ok(());
    }
    let (old, new) = hosts::rename(app.provider_set(), &address, &args.new_name)?;
    let v = serde_json::json!({
        "old_name": old.name,
        "new_name": new.name,
        "host_id": new.id,
        "provider": new.provider,
    });
    match format {
        OutputFormat::Json => print_json(&v),
        OutputFormat::Jsonl => {
            let mut v = v;
            v["event"] = "host_rename_result".into();
            print_jsonl(&v);
        }
        _ if global.quiet => {}
        _ if old.name == new.name => println!("Host already named: {}", new.name),
        _ => println!("Renamed host: {} -> {}", old.name, new.name),
    }
    Ok(())
}

#[derive(Debug, Args)]
#[command(
    group = clap::ArgGroup::new("changes").required(true).multiple(true)
        .args(["labels", "host_tags", "remove_host_tags"]),
    after_help = "\
Examples:
  mngr label fixer -l priority=high -l team=web
  mngr label fixer --host-tag team=web --remove-host-tag old"
)]
pub struct LabelArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// More agents (repeatable)
    #[arg(long = "agent", value_name = "AGENT")]
    pub more: Vec<String>,
    /// A label to set on the agents (repeatable)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A tag to add or change on the agents' hosts (repeatable; the provider must allow it)
    #[arg(
        long = "host-tag",
        visible_alias = "host-label",
        value_name = "KEY=VALUE"
    )]
    pub host_tags: Vec<String>,
    /// A tag to remove from the agents' hosts (repeatable)
    #[arg(
        long = "remove-host-tag",
        visible_alias = "remove-host-label",
        value_name = "KEY"
    )]
    pub remove_host_tags: Vec<String>,
}

pub fn label(global: &RunOptions, args: LabelArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    format.reject_template("label")?;
    let mut labels = BTreeMap::new();
    for raw in &args.labels {
        let (k, v) = parse_key_value("--label", raw)?;
        labels.insert(k, v);
    }
    let tag_change = host_tags::TagChange::parse(&args.host_tags, &args.remove_host_tags)?;
    let targets = read_targets(&args.agents, &args.more)?;
    if targets.is_empty() {
        if args.agents.iter().any(|a| a == "-") {
            return Ok(());
        }
        return Err(MngrError::usage("name at least one agent"));
    }
    let app = super::load(global)?;
    let (found, idx) = resolve(&app, &targets)?;
    let agents: Vec<_> = idx.iter().map(|&i| &found.agents[i]).collect();
    // Refuse before changing anything when some host's provider cannot change tags.
    let hosts = host_tags::hosts_of(&app, &agents, &tag_change)?;
    let mut changes = Vec::new();
    if !labels.is_empty() {
        for agent in &agents {
            let provider = app.provider(&agent.host.provider)?;
            let record = lifecycle::label(agent, provider.instance.as_ref(), &labels)?;
            changes.push(serde_json::json!({"agent": record.name, "agent_id": record.id, "labels": record.labels}));
            if format == OutputFormat::Human && !global.quiet {
                println!("Updated labels for agent {}", record.name);
            }
        }
    }
    let mut host_changes = Vec::new();
    for host in hosts {
        let tags = tag_change.apply(&host)?;
        if format == OutputFormat::Human && !global.quiet {
            println!("Updated tags for host {}", host.view.name());
        }
        host_changes.push(serde_json::json!({
            "host": host.view.name(),
            "host_id": host.view.record.id,
            "provider": host.view.provider,
            "tags": tags,
        }));
    }
    match format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "changes": changes,
            "count": changes.len(),
            "host_changes": host_changes,
        })),
        OutputFormat::Jsonl => {
            for mut c in changes {
                c["event"] = "label_result".into();
                print_jsonl(&c);
            }
            for mut c in host_changes {
                c["event"] = "host_tags_result".into();
                print_jsonl(&c);
            }
        }
        _ => {}
    }
    Ok(())
}
