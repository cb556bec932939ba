//! `mngr gc`: remove what crashed or interrupted commands left behind, on every running host.

use super::{print_json, print_jsonl};
use crate::agents::discovery;
use crate::agents::gc;
use crate::error::{ExitCode, MngrError, Result};
use crate::output::{OutputFormat, render_template};
use crate::run_options::RunOptions;
use clap::Args;

#[derive(Debug, Args)]
#[command(after_help = "\
gc removes, on each running host: agent dirs without a record, work dirs mngr made that no
agent uses (with their mngr/ branch), tmux sessions this host dir started for agents that have
no record, temp files of interrupted writes, and the provider's copies of records of agents
that are gone. It destroys hosts their provider reports abandoned (a create or destroy that
was killed midway) that hold no agent records, and forgets the records of hosts their provider
still lists as destroyed. It says why it removes each thing.

It never removes a work dir with uncommitted changes, a branch with commits on no other branch
or remote, or anything of an agent whose record exists (even one it cannot read), whatever
the prefix: it keeps those and says why. --dry-run prints the same list and removes nothing.")]
pub struct GcArgs {
    /// Only hosts of this provider instance (repeatable)
    #[arg(long = "provider", value_name = "PROVIDER")]
    pub providers: Vec<String>,
    /// Print what would be removed, remove nothing
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(global: &RunOptions, args: GcArgs) -> Result<()> {
    let format = OutputFormat::parse(&global.format);
    let app = super::load(global)?;
    let providers = app.select_providers(&args.providers)?;
    let found = discovery::discover(&app.settings, &providers);
    let gc::Report {
        removed,
        kept,
        errors,
    } = gc::run(&providers, &found, &app.settings.prefix, args.dry_run);
    let json = |items: &[gc::Item]| -> Vec<serde_json::Value> {
        items
            .iter()
            .map(|r| serde_json::to_value(r).expect("json"))
            .collect()
    };
    let (items, kept_items) = (json(&removed), json(&kept));
    match &format {
        OutputFormat::Human => {
            if !global.quiet {
                let (remove, keep) = if args.dry_run {
                    ("Would remove", "Would keep")
                } else {
                    ("Removed", "Kept")
                };
                let line = |verb: &str, r: &gc::Item| {
                    println!(
                        "{verb} {}: {} (host {}): {}",
                        r.kind.replace('_', " "),
                        r.what,
                        r.host,
                        r.reason
                    )
                };
                removed.iter().for_each(|r| line(remove, r));
                kept.iter().for_each(|r| line(keep, r));
                if removed.is_empty() {
                    println!("Nothing to collect");
                }
            }
        }
        OutputFormat::Json => print_json(&serde_json::json!({
            "removed": items,
            "count": items.len(),
            "kept": kept_items,
            "dry_run": args.dry_run,
            "errors": errors.iter().map(MngrError::to_json).collect::<Vec<_>>(),
        })),
        OutputFormat::Jsonl => {
            for (event, list) in [("removed", items), ("kept", kept_items)] {
                for mut i in list {
                    i["event"] = event.into();
                    print_jsonl(&i);
                }
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
        crate::cli::report_error(e, global.verbose > 0);
    }
    let code = if found.errors.len() == errors.len() && found.errors.iter().all(|e| e.unreachable) {
        ExitCode::ProviderUnavailable
    } else {
        ExitCode::Failure
    };
    Err(MngrError::new(code, String::new()))
}
