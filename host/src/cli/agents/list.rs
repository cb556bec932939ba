//! `mngr list`: every agent on every enabled provider (queried concurrently), filtered.

use super::agent_json;
use crate::agents::discovery::{self, AgentView};
use crate::agents::state::AgentState;
use crate::cli::GlobalOptions;
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{OutputFormat, print_table, render_template};
use clap::Args;
use std::io::{BufRead, IsTerminal};

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr list
  mngr list --running --format json
  mngr list --label project=web --format '{name}\\t{state}'
  mngr list --ids | mngr stop -")]
pub struct ListArgs {
    /// Only agents on this provider instance (repeatable)
    #[arg(long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Only agents in this state: RUNNING, WAITING, DONE, STOPPED, REPLACED, ... (repeatable)
    #[arg(long = "state", value_name = "STATE")]
    pub states: Vec<String>,
    /// Only running agents (state RUNNING)
    #[arg(long)]
    pub running: bool,
    /// Only stopped agents (state STOPPED)
    #[arg(long)]
    pub stopped: bool,
    /// Only agents on the local provider
    #[arg(long, conflicts_with = "remote")]
    pub local: bool,
    /// Only agents not on the local provider
    #[arg(long)]
    pub remote: bool,
    /// Only agents with this label (repeatable; all must match)
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Only the agents named on stdin (names, ids, host names or host ids, one per line)
    #[arg(long)]
    pub stdin: bool,
    /// Print only agent ids, one per line
    #[arg(long, conflicts_with = "addrs")]
    pub ids: bool,
    /// Print only agent addresses (NAME@HOST.PROVIDER), one per line
    #[arg(long)]
    pub addrs: bool,
}

fn filter(args: &ListArgs, stdin_names: &[String]) -> Result<impl Fn(&AgentView) -> bool> {
    let mut states: Vec<AgentState> = Vec::new();
    for raw in &args.states {
        states.push(AgentState::parse(raw).ok_or_else(|| {
            MngrError::usage(format!(
                "unknown state '{raw}'; states: STOPPED, RUNNING, WAITING, REPLACED, DONE, RUNNING_UNKNOWN_AGENT_TYPE, UNKNOWN"
            ))
        })?);
    }
    if args.running {
        states.push(AgentState::Running);
    }
    if args.stopped {
        states.push(AgentState::Stopped);
    }
    let mut labels = Vec::new();
    for raw in &args.labels {
        labels.push(super::parse_key_value("--label", raw)?);
    }
    let (local, remote) = (args.local, args.remote);
    let names = stdin_names.to_vec();
    let use_names = args.stdin;
    Ok(move |a: &AgentView| {
        (states.is_empty() || states.contains(&a.state))
            && labels
                .iter()
                .all(|(k, v)| a.record.labels.get(k) == Some(v))
            && (!local || a.host.provider == "local")
            && (!remote || a.host.provider != "local")
            && (!use_names
                || names.iter().any(|n| {
                    a.record.name == *n
                        || a.record.id.as_str() == n
                        || a.host.name() == n
                        || a.host.record.id.as_str() == n
                }))
    })
}

pub fn run(global: &GlobalOptions, args: ListArgs) -> Result<()> {
    let mut format = OutputFormat::parse(&global.format);
    if args.ids || args.addrs {
        if format != OutputFormat::Human {
            return Err(MngrError::usage(
                "--ids and --addrs cannot be combined with --format",
            ));
        }
        format = OutputFormat::Template(if args.ids {
            "{id}".to_string()
        } else {
            "{address}".to_string()
        });
    }
    let stdin_names: Vec<String> = if args.stdin {
        if std::io::stdin().is_terminal() {
            return Err(MngrError::usage(
                "--stdin reads names from stdin, but stdin is a terminal",
            ));
        }
        std::io::stdin()
            .lock()
            .lines()
            .map_while(|l| l.ok())
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    } else {
        Vec::new()
    };
    let keep = filter(&args, &stdin_names)?;
    let app = super::load(global)?;
    let providers = discovery::select_providers(&app, &args.providers)?;
    let found = discovery::discover(&app, &providers);
    let agents: Vec<&AgentView> = found.agents.iter().filter(|a| keep(a)).collect();
    let errors: Vec<serde_json::Value> = found
        .errors
        .iter()
        .map(|e| {
            serde_json::json!({
                "provider_name": e.provider,
                "message": e.message,
                "unreachable": e.unreachable,
            })
        })
        .collect();
    match &format {
        OutputFormat::Human => {
            if agents.is_empty() {
                if !global.quiet {
                    println!("No agents found");
                }
            } else {
                let rows: Vec<Vec<String>> = agents
                    .iter()
                    .map(|a| {
                        vec![
                            a.record.name.clone(),
                            a.state.as_str().to_string(),
                            a.host.name().to_string(),
                            a.host.provider.clone(),
                            a.host.record.state.as_str().to_string(),
                            a.record.labels.get("project").cloned().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(
                    &["NAME", "STATE", "HOST", "PROVIDER", "HOST STATE", "PROJECT"],
                    &rows,
                );
            }
            for e in &found.errors {
                let what = if e.unreachable {
                    "unreachable"
                } else {
                    "failed"
                };
                eprintln!("Error: provider '{}' {what}: {}", e.provider, e.message);
            }
        }
        OutputFormat::Json => {
            let items: Vec<serde_json::Value> = agents.iter().map(|a| agent_json(a)).collect();
            super::print_json(&serde_json::json!({"agents": items, "errors": errors}));
        }
        OutputFormat::Jsonl => {
            for a in &agents {
                super::print_jsonl(&agent_json(a));
            }
            for e in &errors {
                let mut e = e.clone();
                e["event"] = "error".into();
                super::print_jsonl(&e);
            }
        }
        OutputFormat::Template(t) => {
            let mut out = String::new();
            for a in &agents {
                out.push_str(&render_template(t, &agent_json(a)));
                out.push('\n');
            }
            print!("{out}");
            for e in &found.errors {
                eprintln!("Error: provider '{}': {}", e.provider, e.message);
            }
        }
    }
    if found.errors.is_empty() {
        Ok(())
    } else {
        let code = if found.errors.iter().all(|e| e.unreachable) {
            ExitCode::ProviderUnavailable
        } else {
            ExitCode::Failure
        };
        // The errors are already printed; exit with the code only.
        Err(MngrError::new(code, String::new()))
    }
}
