//! `mngr list`: every agent on every enabled provider (queried concurrently), filtered.

use super::agent_json_with_host;
use crate::agents::discovery::{self, Discovery, HostView, UnreadableAgent};
use crate::agents::state::AgentState;
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{
    OutputFormat, compare_values, display_value, field, print_table, render_template,
};
use crate::run_options::RunOptions;
use clap::Args;
use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::sync::Arc;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  mngr list
  mngr list --running --format json
  mngr list --label project=web --format '{name}\\t{state}'
  mngr list --ids | mngr stop -
  mngr list --sort 'state, create_time desc' --limit 5
  mngr list --project . --host-label team=infra
  mngr list --hosts")]
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
    /// Only agents of this project (their `project` label; `.` is this directory's project)
    /// (repeatable; any may match)
    #[arg(long = "project", value_name = "PROJECT")]
    pub projects: Vec<String>,
    /// Only agents whose host has this tag (repeatable; all must match)
    #[arg(
        long = "host-label",
        visible_alias = "host-tag",
        value_name = "KEY=VALUE"
    )]
    pub host_labels: Vec<String>,
    /// Order by fields of the JSON output: 'FIELD [asc|desc], ...' (default: create_time;
    /// with --hosts: name)
    #[arg(long, value_name = "FIELDS")]
    pub sort: Option<String>,
    /// Show at most this many (after sorting)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// List hosts, each with its agents, instead of agents (also hosts without agents)
    #[arg(
        long,
        conflicts_with_all = [
            "states", "running", "stopped", "local", "remote", "labels", "stdin", "ids", "addrs",
            "projects", "host_labels",
        ]
    )]
    pub hosts: bool,
}

/// What a listing shows: agents or hosts.
struct View {
    plural: &'static str,
    default_sort: &'static str,
    /// Human table: (header, dotted field of the JSON row).
    columns: &'static [(&'static str, &'static str)],
}

const AGENTS: View = View {
    plural: "agents",
    default_sort: "create_time",
    columns: &[
        ("NAME", "name"),
        ("STATE", "state"),
        ("HOST", "host.name"),
        ("PROVIDER", "host.provider_name"),
        ("HOST STATE", "host.state"),
        ("PROJECT", "labels.project"),
    ],
};

const HOSTS: View = View {
    plural: "hosts",
    default_sort: "name",
    columns: &[
        ("NAME", "name"),
        ("ID", "id"),
        ("PROVIDER", "provider"),
        ("STATE", "state"),
        ("IDLE", "idle_display"),
        ("STOPPED BECAUSE", "stopped_because"),
        ("FACTS", "facts_display"),
        ("TAGS", "tags"),
        ("AGENTS", "agents"),
    ],
};

/// Longest provider fact value the human table shows whole.
const FACT_WIDTH: usize = 24;

/// The human table's compact cells of a host row: `IDLE` (mode, seconds idle of the timeout,
/// the source that last counted) and `FACTS` (the provider's details, long values cut).
fn add_human_host_cells(row: &mut serde_json::Value) {
    let text = |key: &str| row.get(key).map(display_value).unwrap_or_default();
    let idle = match (text("idle_mode").as_str(), text("idle_seconds")) {
        ("", _) => String::new(),
        ("DISABLED", _) => "DISABLED".to_string(),
        (mode, secs) if secs.is_empty() => format!("{mode} -/{}s", text("idle_timeout_seconds")),
        (mode, secs) => format!(
            "{mode} {secs}s/{}s ({})",
            text("idle_timeout_seconds"),
            text("last_activity_source")
        ),
    };
    let facts = row
        .get("details")
        .and_then(|d| d.as_object())
        .map(|details| {
            details
                .iter()
                .map(|(k, v)| {
                    let v = display_value(v);
                    if v.chars().count() > FACT_WIDTH {
                        let cut: String = v.chars().take(FACT_WIDTH - 1).collect();
                        format!("{k}={cut}…")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    row["idle_display"] = idle.into();
    row["facts_display"] = facts.into();
}

/// One host as `list --hosts` prints it, with its agents.
fn host_json(host: &HostView, found: &Discovery) -> serde_json::Value {
    let here = |h: &HostView| h.provider == host.provider && h.record.id == host.record.id;
    let agents: Vec<serde_json::Value> = found
        .agents
        .iter()
        .filter(|a| here(&a.host))
        .map(|a| serde_json::json!({"id": a.record.id, "name": a.record.name}))
        .chain(found.unreadable.iter().filter(|u| here(&u.host)).map(|u| {
            let name = u.name.clone().unwrap_or_else(|| u.id.clone());
            serde_json::json!({"id": u.id, "name": name, "state": "UNKNOWN"})
        }))
        .collect();
    let mut json = serde_json::json!({
        "resource_type": "host",
        "id": host.record.id,
        "name": host.record.name,
        "provider": host.provider,
        "state": host.record.state.as_str(),
        "tags": host.record.tags,
        "agents": agents,
        "abandoned": host.record.abandoned,
    });
    if let Some(map) = json.as_object_mut() {
        map.extend(super::host_idle_fields(host));
    }
    json
}

/// `--sort`: (dotted field, descending) pairs.
fn sort_keys(raw: Option<&str>, default: &str) -> Result<Vec<(String, bool)>> {
    let raw = raw.unwrap_or(default);
    let mut keys = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default().to_string();
        let descending = match words.next().map(|w| w.to_ascii_lowercase()) {
            None => false,
            Some(w) if w == "asc" => false,
            Some(w) if w == "desc" => true,
            Some(w) => {
                return Err(MngrError::usage(format!(
                    "--sort '{part}': '{w}' is not asc or desc"
                )));
            }
        };
        if words.next().is_some() {
            return Err(MngrError::usage(format!(
                "--sort '{part}': expected FIELD [asc|desc]"
            )));
        }
        keys.push((field, descending));
    }
    if keys.is_empty() {
        return Err(MngrError::usage("--sort names no field"));
    }
    Ok(keys)
}

/// Sort JSON rows by `keys` (stable), then keep at most `limit`.
fn sort_and_limit(
    rows: &mut Vec<serde_json::Value>,
    keys: &[(String, bool)],
    limit: Option<usize>,
) {
    rows.sort_by(|a, b| {
        keys.iter()
            .map(|(path, descending)| {
                let order = compare_values(field(a, path), field(b, path));
                if *descending { order.reverse() } else { order }
            })
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if let Some(limit) = limit {
        rows.truncate(limit);
    }
}

/// The project name `--project .` stands for: the current git repository's, else the current
/// directory's.
fn current_project() -> Result<String> {
    let source = crate::agents::workdir::inspect(&std::env::current_dir()?)?;
    let root = source.git_root.as_deref().unwrap_or(&source.path);
    Ok(root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

/// A row for an agent whose record cannot be read: what is known of it, state UNKNOWN, and
/// the reason under `error`.
fn unreadable_json(agent: &UnreadableAgent) -> serde_json::Value {
    let address = agent
        .name
        .as_ref()
        .map(|n| format!("{n}@{}.{}", agent.host.name(), agent.host.provider));
    serde_json::json!({
        "resource_type": "agent",
        "id": agent.id,
        "name": agent.name.clone().unwrap_or_else(|| agent.id.clone()),
        "address": address,
        "state": AgentState::Unknown.as_str(),
        "labels": {},
        "error": agent.message(),
        "host": super::host_json(&agent.host),
    })
}

/// The filter, on the rows `list` prints (so rows of unreadable records filter alike).
fn filter(args: &ListArgs, stdin_names: &[String]) -> Result<impl Fn(&serde_json::Value) -> bool> {
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
    let mut host_labels = Vec::new();
    for raw in &args.host_labels {
        host_labels.push(super::parse_key_value("--host-label", raw)?);
    }
    let mut projects = Vec::new();
    for raw in &args.projects {
        projects.push(if raw == "." {
            current_project()?
        } else {
            raw.clone()
        });
    }
    let (local, remote) = (args.local, args.remote);
    let names = stdin_names.to_vec();
    let use_names = args.stdin;
    Ok(move |row: &serde_json::Value| {
        let text = |path: &str| {
            field(row, path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
        };
        let is = |path: &str, value: &str| field(row, path).and_then(|v| v.as_str()) == Some(value);
        // Label keys may hold dots: looked up as keys, not as paths.
        let in_map = |map: &str, key: &str, value: &str| {
            field(row, map)
                .and_then(|m| m.get(key))
                .and_then(|v| v.as_str())
                == Some(value)
        };
        let provider = text("host.provider_name");
        (states.is_empty() || states.iter().any(|s| is("state", s.as_str())))
            && labels.iter().all(|(k, v)| in_map("labels", k, v))
            && host_labels.iter().all(|(k, v)| in_map("host.tags", k, v))
            && (projects.is_empty() || projects.iter().any(|p| is("labels.project", p)))
            && (!local || provider == "local")
            && (!remote || provider != "local")
            && (!use_names
                || names.iter().any(|n| {
                    ["name", "id", "host.name", "host.id"]
                        .iter()
                        .any(|path| is(path, n))
                }))
    })
}

pub fn run(global: &RunOptions, args: ListArgs) -> Result<()> {
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
    let providers = app.select_providers(&args.providers)?;
    let found = discovery::discover(&app.settings, &providers);
    let mut errors: Vec<serde_json::Value> = found
        .errors
        .iter()
        .map(|e| {
            serde_json::json!({
                "provider_name": e.provider,
                "message": e.message,
                "unreachable": e.unreachable,
                "details": e.details,
                "retryable": e.retryable,
            })
        })
        .collect();
    // A record that cannot be read is listed (UNKNOWN) and reported, but is no failure of
    // the listing: the exit code stays.
    errors.extend(found.unreadable.iter().map(|u| {
        serde_json::json!({
            "provider_name": u.host.provider,
            "host_name": u.host.name(),
            "agent_id": u.id,
            "message": u.message(),
            "unreachable": false,
            "details": serde_json::Value::Null,
            "retryable": false,
        })
    }));
    let warn_unreadable = || {
        for u in &found.unreadable {
            eprintln!("Warning: {}", u.message());
        }
        for h in found.hosts.iter() {
            if let Some(why) = &h.record.abandoned {
                eprintln!(
                    "Warning: host '{}' ({}) of provider '{}' is abandoned: {why}; mngr gc removes it",
                    h.name(),
                    h.record.id,
                    h.provider
                );
            }
        }
    };
    let (mut rows, view) = if args.hosts {
        (
            found.hosts.iter().map(|h| host_json(h, &found)).collect(),
            HOSTS,
        )
    } else {
        // Each host's row is made once and copied into its agents' rows.
        let mut host_rows: HashMap<*const HostView, serde_json::Value> = HashMap::new();
        let rows = found
            .agents
            .iter()
            .map(|agent| {
                let host = host_rows
                    .entry(Arc::as_ptr(&agent.host))
                    .or_insert_with(|| super::host_json(&agent.host));
                agent_json_with_host(agent, host.clone())
            })
            .chain(found.unreadable.iter().map(unreadable_json))
            .filter(|row| keep(row))
            .collect();
        (rows, AGENTS)
    };
    sort_and_limit(
        &mut rows,
        &sort_keys(args.sort.as_deref(), view.default_sort)?,
        args.limit,
    );
    match &format {
        OutputFormat::Human => {
            if rows.is_empty() {
                if !global.quiet {
                    println!("No {} found", view.plural);
                }
            } else {
                if args.hosts {
                    rows.iter_mut().for_each(add_human_host_cells);
                }
                let table: Vec<Vec<String>> = rows
                    .iter()
                    .map(|row| {
                        view.columns
                            .iter()
                            .map(|(_, path)| {
                                field(row, path).map(display_value).unwrap_or_default()
                            })
                            .collect()
                    })
                    .collect();
                let headers: Vec<&str> = view.columns.iter().map(|(h, _)| *h).collect();
                print_table(&headers, &table);
            }
            warn_unreadable();
            for e in &found.errors {
                let what = if e.unreachable {
                    "unreachable"
                } else {
                    "failed"
                };
                let line = format!("provider '{}' {what}: {}", e.provider, e.message);
                crate::cli::report_error(&e.to_error(line), global.verbose > 0);
            }
        }
        OutputFormat::Json => {
            let mut out = serde_json::Map::new();
            out.insert(view.plural.to_string(), serde_json::Value::from(rows));
            out.insert("errors".to_string(), serde_json::Value::from(errors));
            super::print_json(&serde_json::Value::Object(out));
        }
        OutputFormat::Jsonl => {
            for mut row in rows {
                if args.hosts {
                    row["event"] = "host".into();
                }
                super::print_jsonl(&row);
            }
            for e in &errors {
                let mut e = e.clone();
                e["event"] = "error".into();
                super::print_jsonl(&e);
            }
        }
        OutputFormat::Template(t) => {
            let mut out = String::new();
            for row in &rows {
                out.push_str(&render_template(t, row));
                out.push('\n');
            }
            print!("{out}");
            warn_unreadable();
            for e in &found.errors {
                let line = format!("provider '{}': {}", e.provider, e.message);
                crate::cli::report_error(&e.to_error(line), global.verbose > 0);
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
