//! `mngr snapshot create|list|destroy AGENT...`: snapshots of the hosts agents run on.
//! Each agent resolves to its host; hosts named by several agents are handled once.

use super::agents::{load, print_json, print_jsonl, read_targets, resolve};
use crate::agents::discovery::AgentView;
use crate::app::App;
use crate::error::{ExitCode, MngrError, Result};
use crate::instances::ProviderHandle;
use crate::output::{OutputFormat, print_items, print_table, render_template};
use crate::run_options::RunOptions;
use clap::{Args, Subcommand};
use mngr_plugin_api::{HostRecord, SnapshotInfo};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Snapshot the hosts of these agents (docker: `docker commit`)
    Create(CreateArgs),
    /// List the snapshots of these agents' hosts, newest first
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Delete snapshots of these agents' hosts
    #[command(visible_alias = "rm")]
    Destroy(DestroyArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "\
Volume mounts (-s -v / --mount) are not part of a snapshot; only the host's own filesystem is.

Examples:
  mngr snapshot create fixer
  mngr snapshot create fixer --name before-refactor
  mngr start fixer --snapshot before-refactor
  mngr create fixer2 --in docker --snapshot before-refactor")]
pub struct CreateArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// Snapshot name (default: generated)
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// Show at most this many snapshots per host
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr snapshot destroy fixer --snapshot before-refactor
  mngr snapshot destroy fixer --all-snapshots")]
pub struct DestroyArgs {
    /// Agents (NAME[@HOST[.PROVIDER]], ids, or '-' to read them from stdin)
    pub agents: Vec<String>,
    /// Snapshot id or name to delete (repeatable)
    #[arg(long = "snapshot", value_name = "ID")]
    pub snapshots: Vec<String>,
    /// Delete every snapshot of the hosts
    #[arg(long, conflicts_with = "snapshots")]
    pub all_snapshots: bool,
    /// Print what would be deleted, change nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &RunOptions, cmd: SnapshotCommand) -> Result<()> {
    match cmd {
        SnapshotCommand::Create(args) => create(global, args),
        SnapshotCommand::List(args) => list(global, args),
        SnapshotCommand::Destroy(args) => destroy(global, args),
    }
}

/// One host to work on, with the agents that named it.
struct Target<'a> {
    provider: &'a ProviderHandle,
    host: HostRecord,
    agents: Vec<String>,
}

fn targets<'a>(app: &'a App, raw: &[String]) -> Result<Vec<Target<'a>>> {
    let names = read_targets(raw, &[])?;
    if names.is_empty() {
        return Err(MngrError::usage(
            "name at least one agent (or '-' to read names from stdin)",
        ));
    }
    let (found, idx) = resolve(app, &names)?;
    let mut out: Vec<Target> = Vec::new();
    for i in idx {
        let agent: &AgentView = &found.agents[i];
        let host = &agent.host.record;
        if let Some(t) = out.iter_mut().find(|t| t.host.id == host.id) {
            t.agents.push(agent.record.name.clone());
            continue;
        }
        let provider = app.provider(&agent.host.provider)?;
        if !provider.capabilities.snapshots {
            return Err(MngrError::new(
                ExitCode::Unsupported,
                format!(
                    "provider '{}' (agent '{}') does not support snapshots",
                    provider.name, agent.record.name
                ),
            )
            .with_hint("snapshots need a provider such as docker: mngr create NAME --in docker"));
        }
        out.push(Target {
            provider,
            host: host.clone(),
            agents: vec![agent.record.name.clone()],
        });
    }
    Ok(out)
}

fn create(global: &RunOptions, args: CreateArgs) -> Result<()> {
    let app = load(global)?;
    let targets = targets(&app, &args.agents)?;
    if args.name.is_some() && targets.len() > 1 {
        return Err(MngrError::usage(
            "--name applies to one host, but the agents given run on several",
        ));
    }
    let mut created = Vec::new();
    for t in &targets {
        let snap = t
            .provider
            .instance
            .create_snapshot(&t.host.id, args.name.as_deref())
            .map_err(|e| MngrError::from_provider(&t.provider.name, e))?;
        created.push(serde_json::json!({
            "snapshot_id": snap.id,
            "name": snap.name,
            "created_at": snap.created_at,
            "host_id": t.host.id,
            "host_name": t.host.name,
            "provider": t.provider.name,
            "agent_names": t.agents,
        }));
    }
    print_changes(
        global,
        &created,
        "snapshots_created",
        "create_result",
        |c| {
            format!(
                "Created snapshot {} ({}) of host {}",
                c["name"].as_str().unwrap_or(""),
                c["snapshot_id"].as_str().unwrap_or(""),
                c["host_name"].as_str().unwrap_or("")
            )
        },
    );
    Ok(())
}

/// Print what a snapshot command changed: a line each (human), `{KEY: [...], "count": N}`
/// (json), one event per item (jsonl), or the template per item.
fn print_changes(
    global: &RunOptions,
    items: &[serde_json::Value],
    key: &str,
    event: &str,
    human: impl Fn(&serde_json::Value) -> String,
) {
    match &OutputFormat::parse(&global.format) {
        OutputFormat::Human => {
            if !global.quiet {
                for item in items {
                    println!("{}", human(item));
                }
            }
        }
        OutputFormat::Json => {
            let mut out = serde_json::Map::new();
            out.insert(key.to_string(), serde_json::Value::from(items.to_vec()));
            out.insert("count".to_string(), items.len().into());
            print_json(&serde_json::Value::Object(out));
        }
        OutputFormat::Jsonl => {
            for item in items {
                let mut item = item.clone();
                item["event"] = event.into();
                print_jsonl(&item);
            }
        }
        OutputFormat::Template(tpl) => {
            for item in items {
                println!("{}", render_template(tpl, item));
            }
        }
    }
}

fn snapshot_json(s: &SnapshotInfo, t: &Target) -> serde_json::Value {
    serde_json::json!({
        "id": s.id,
        "name": s.name,
        "created_at": s.created_at,
        "size_bytes": s.size_bytes,
        "host_id": t.host.id,
        "host_name": t.host.name,
        "provider": t.provider.name,
    })
}

fn list(global: &RunOptions, args: ListArgs) -> Result<()> {
    let app = load(global)?;
    let targets = targets(&app, &args.agents)?;
    let mut items = Vec::new();
    for t in &targets {
        let mut snaps = t
            .provider
            .instance
            .list_snapshots(&t.host.id)
            .map_err(|e| MngrError::from_provider(&t.provider.name, e))?;
        if let Some(limit) = args.limit {
            snaps.truncate(limit);
        }
        items.extend(snaps.iter().map(|s| snapshot_json(s, t)));
    }
    let format = OutputFormat::parse(&global.format);
    print_items(&format, "snapshots", &items, |items| {
        if items.is_empty() {
            println!("No snapshots found");
            return;
        }
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                let id = i["id"].as_str().unwrap_or("");
                vec![
                    id.trim_start_matches("sha256:").chars().take(12).collect(),
                    i["name"].as_str().unwrap_or("").to_string(),
                    i["created_at"].as_str().unwrap_or("").to_string(),
                    i["host_name"].as_str().unwrap_or("").to_string(),
                ]
            })
            .collect();
        print_table(&["ID", "NAME", "CREATED", "HOST"], &rows);
    });
    Ok(())
}

fn destroy(global: &RunOptions, args: DestroyArgs) -> Result<()> {
    if args.snapshots.is_empty() && !args.all_snapshots {
        return Err(MngrError::usage(
            "say which snapshots to delete: --snapshot ID (repeatable) or --all-snapshots",
        ));
    }
    let app = load(global)?;
    let targets = targets(&app, &args.agents)?;
    // Work out every deletion first, so an unknown snapshot changes nothing.
    let listed: Vec<(&Target, Vec<SnapshotInfo>)> = targets
        .iter()
        .map(|t| {
            t.provider
                .instance
                .list_snapshots(&t.host.id)
                .map(|snaps| (t, snaps))
                .map_err(|e| MngrError::from_provider(&t.provider.name, e))
        })
        .collect::<Result<_>>()?;
    let mut plan: Vec<(&Target, SnapshotInfo)> = Vec::new();
    if args.all_snapshots {
        for (t, snaps) in &listed {
            plan.extend(snaps.iter().map(|s| (*t, s.clone())));
        }
    }
    for wanted in &args.snapshots {
        let short = wanted.trim_start_matches("sha256:");
        let hit = listed.iter().find_map(|(t, snaps)| {
            snaps
                .iter()
                .find(|s| {
                    s.id == *wanted
                        || s.name == *wanted
                        || (short.len() >= 6
                            && s.id.trim_start_matches("sha256:").starts_with(short))
                })
                .map(|s| (*t, s.clone()))
        });
        let (t, s) = hit.ok_or_else(|| {
            MngrError::not_found(format!(
                "no snapshot '{wanted}' on the hosts of {}",
                args.agents.join(", ")
            ))
            .with_hint("list them with: mngr snapshot list AGENT")
        })?;
        plan.push((t, s));
    }
    let mut deleted = Vec::new();
    for (t, s) in &plan {
        if args.dry_run {
            println!(
                "Would delete snapshot {} ({}) of host {}",
                s.name, s.id, t.host.name
            );
            continue;
        }
        t.provider
            .instance
            .delete_snapshot(&t.host.id, &s.id)
            .map_err(|e| MngrError::from_provider(&t.provider.name, e))?;
        deleted.push(snapshot_json(s, t));
    }
    if args.dry_run {
        return Ok(());
    }
    print_changes(
        global,
        &deleted,
        "snapshots_destroyed",
        "destroy_result",
        |d| {
            format!(
                "Deleted snapshot {} of host {}",
                d["name"].as_str().unwrap_or(""),
                d["host_name"].as_str().unwrap_or("")
            )
        },
    );
    Ok(())
}
