//! `mngr provider list`: every provider instance, where its settings came from, whether it is
//! enabled, and what it can do.

use crate::app::App;
use crate::error::Result;
use crate::output::{print_items, print_table};
use crate::run_options::RunOptions;
use clap::Subcommand;
use mngr_plugin_api::Capabilities;

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// List provider instances: name, backend, source (the settings layer that defined it, or
    /// "default"), enabled, capabilities
    #[command(visible_alias = "ls")]
    List,
}

pub fn run(global: &RunOptions, cmd: ProviderCommand) -> Result<()> {
    match cmd {
        ProviderCommand::List => list(global),
    }
}

fn list(global: &RunOptions) -> Result<()> {
    let app = App::load(global)?;
    let items: Vec<serde_json::Value> = app
        .instances
        .iter()
        .map(|plan| {
            let capabilities = app
                .providers
                .iter()
                .find(|h| h.name == plan.name)
                .map(|h| serde_json::to_value(h.capabilities).expect("json"));
            let files: Vec<String> = plan
                .settings
                .iter()
                .flat_map(|t| t.sources.iter().map(|s| s.describe()))
                .collect();
            serde_json::json!({
                "name": plan.name,
                "backend": plan.backend,
                "source": plan.source,
                "source_files": files,
                "enabled": plan.enabled,
                "reason": plan.reason,
                "capabilities": capabilities,
            })
        })
        .collect();
    print_items(&app.format, "providers", &items, |_| {
        let rows: Vec<Vec<String>> = app
            .instances
            .iter()
            .map(|plan| {
                let caps = app
                    .providers
                    .iter()
                    .find(|h| h.name == plan.name)
                    .map(|h| capability_names(&h.capabilities))
                    .unwrap_or_else(|| "-".to_string());
                let enabled = match &plan.reason {
                    None => "yes".to_string(),
                    Some(why) => format!("no ({why})"),
                };
                vec![
                    plan.name.clone(),
                    plan.backend.clone(),
                    plan.source.clone(),
                    enabled,
                    caps,
                ]
            })
            .collect();
        print_table(
            &["NAME", "BACKEND", "SOURCE", "ENABLED", "CAPABILITIES"],
            &rows,
        );
    });
    Ok(())
}

/// The supported capabilities, comma-separated (`create_hosts,snapshots,...`), or `-`.
fn capability_names(c: &Capabilities) -> String {
    let all = [
        ("create_hosts", c.create_hosts),
        ("destroy_hosts", c.destroy_hosts),
        ("stop_start", c.stop_start),
        ("snapshots", c.snapshots),
        ("mutable_tags", c.mutable_tags),
        ("rename", c.rename),
        ("volumes", c.volumes),
    ];
    let names: Vec<&str> = all.iter().filter(|(_, on)| *on).map(|(n, _)| *n).collect();
    if names.is_empty() {
        "-".to_string()
    } else {
        names.join(",")
    }
}
