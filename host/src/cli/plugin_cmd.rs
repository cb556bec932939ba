//! `mngr plugin list|show`: the provider plugins this run found and what became of each.

use crate::app::{build_registry, load_settings};
use crate::error::{MngrError, Result};
use crate::output::{OutputFormat, print_items, print_table};
use crate::plugins::PluginReport;
use crate::run_options::RunOptions;
use clap::Subcommand;

const PLUGIN_HELP: &str = "\
Plugins are shared libraries (*.so, *.dylib on macOS) found in, in this order: every directory
of MNGR_PLUGIN_PATH (colon-separated), <mngr root>/plugins (~/.mngr/plugins or $MNGR_ROOT/plugins),
and the directory of the mngr executable. Disable one with `[plugins.NAME] enabled = false` in
settings, or for one run with --disable-plugin NAME or --no-plugins.

A plugin that cannot be used (not a plugin, truncated, a directory, FIFO or broken link named
like a library, built against an incompatible mngr-plugin-api, failing in on_startup, or
bringing a backend name already taken) is skipped with
one warning line on stderr; the command still runs and its exit code is unchanged.";

#[derive(Debug, Subcommand)]
#[command(after_help = PLUGIN_HELP)]
pub enum PluginCommand {
    /// List every plugin file found: name, version, plugin-api version, backends, status, path
    #[command(visible_alias = "ls", after_help = PLUGIN_HELP)]
    List,
    /// Show one plugin in detail
    #[command(after_help = PLUGIN_HELP)]
    Show {
        /// The plugin's name (as `mngr plugin list` shows it)
        name: String,
    },
}

pub fn run(global: &RunOptions, cmd: PluginCommand) -> Result<()> {
    // Only settings and the registry: listing plugins must not depend on building instances.
    let settings = load_settings(global)?;
    let (_, plugins) = build_registry(global, &settings)?;
    let format = OutputFormat::parse(&global.format);
    let reports = &plugins.reports;
    match cmd {
        PluginCommand::List => {
            let items: Vec<serde_json::Value> = reports.iter().map(to_json).collect();
            print_items(&format, "plugins", &items, |_| print_list(reports));
            Ok(())
        }
        PluginCommand::Show { name } => {
            let report = reports.iter().find(|r| r.name == name).ok_or_else(|| {
                let known: Vec<&str> = reports.iter().map(|r| r.name.as_str()).collect();
                MngrError::not_found(format!(
                    "no plugin named '{name}'; plugins found: {}",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ))
            })?;
            match &format {
                OutputFormat::Human => print_show(report),
                format => print_items(format, "plugins", &[to_json(report)], |_| {}),
            }
            Ok(())
        }
    }
}

fn to_json(report: &PluginReport) -> serde_json::Value {
    serde_json::to_value(report).expect("plugin report serializes")
}

fn or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "-".to_string())
}

fn print_list(reports: &[PluginReport]) {
    if reports.is_empty() {
        println!("No plugins found.");
        return;
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                or_dash(&r.version),
                or_dash(&r.plugin_api_version),
                if r.backends.is_empty() {
                    "-".to_string()
                } else {
                    r.backends.join(",")
                },
                r.status.describe(),
                r.path.display().to_string(),
            ]
        })
        .collect();
    print_table(
        &[
            "NAME",
            "VERSION",
            "PLUGIN-API",
            "BACKENDS",
            "STATUS",
            "PATH",
        ],
        &rows,
    );
}

fn print_show(r: &PluginReport) {
    println!("name:        {}", r.name);
    println!("version:     {}", or_dash(&r.version));
    println!("plugin-api:  {}", or_dash(&r.plugin_api_version));
    if let Some(description) = r.description.as_ref().filter(|d| !d.is_empty()) {
        println!("description: {description}");
    }
    println!("path:        {}", r.path.display());
    println!(
        "backends:    {}",
        if r.backends.is_empty() {
            "-".to_string()
        } else {
            r.backends.join(", ")
        }
    );
    println!("status:      {}", r.status.describe());
    for problem in &r.problems {
        println!("problem:     {problem}");
    }
}
