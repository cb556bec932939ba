//! `mngr gc`: remove what crashed or interrupted commands left behind, on every running host.

use super::{print_json, print_jsonl};
use crate::agents::discovery;
use crate::agents::gc;
use crate::cli::GlobalOptions;
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{OutputFormat, render_template};
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
gc removes, on each running host: agent dirs without a valid record, work dirs mngr made
that no agent uses (with their mngr/ branch when it holds no unique commit), tmux sessions
this host dir started that no agent owns, temp files of interrupted writes, and the provider's
copies of records of agents that are gone.")]
pub struct GcArgs {
    /// Only hosts of this provider instance (repeatable)
    #[arg(long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Print what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &GlobalOptions, args: GcArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    let app = super::load(global)?;
    let providers = discovery::select_providers(&app, &args.providers)?;
    let found = discovery::discover(&app, &providers);
    let mut removed = Vec::new();
    let mut errors: Vec<String> = found
        .errors
        .iter()
        .map(|e| format!("provider '{}': {}", e.provider, e.message))
        .collect();
    for host in found.hosts.iter().filter_map(|h| h.online.as_ref()) {
        match gc::collect(host, &app.settings.prefix, args.dry_run) {
            Ok(r) => removed.extend(r),
            Err(e) => errors.push(format!("host '{}': {}", host.name(), e.message)),
        }
    }
    let items: Vec<serde_json::Value> = removed
        .iter()
        .map(|r| serde_json::to_value(r).expect("json"))
        .collect();
    match &format {
        OutputFormat::Human => {
            if !global.quiet {
                let verb = if args.dry_run {
                    "Would remove"
                } else {
                    "Removed"
                };
                for r in &removed {
                    println!(
                        "{verb} {}: {} (host {})",
                        r.kind.replace('_', " "),
                        r.what,
                        r.host
                    );
                }
                if removed.is_empty() {
                    println!("Nothing to collect");
                }
            }
        }
        OutputFormat::Json => print_json(
            &serde_json::json!({"removed": items, "count": items.len(), "dry_run": args.dry_run, "errors": errors}),
        ),
        OutputFormat::Jsonl => {
            for mut i in items {
                i["event"] = "removed".into();
                print_jsonl(&i);
            }
        }
        OutputFormat::Template(t) => {
            for i in &items {
                println!("{}", render_template(t, i));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    for e in &errors {
        eprintln!("Error: {e}");
    }
    let code = if found.errors.len() == errors.len() && found.errors.iter().all(|e| e.unreachable) {
        ExitCode::ProviderUnavailable
    } else {
        ExitCode::Failure
    };
    Err(MngrError::new(code, String::new()))
}
