//! Plugin loading: find plugin libraries, open and check each, run its `on_startup`, and
//! register its backends next to the built-in ones.
//!
//! Failure behaviour: a plugin that cannot be used (not a plugin, truncated, incompatible
//! plugin-api, panics in `on_startup`, a backend name already taken) costs one warning line on
//! stderr naming the file and the problem; every other plugin and the command itself carry on,
//! and the exit code is the command's own. `mngr plugin list` shows the same reasons.

pub mod discovery;

use crate::registry::{BackendOrigin, Registry};
use crate::run_options::RunOptions;
use mngr_plugin_api::HostServices;
use mngr_plugin_loader::LoadedLibrary;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// What happened to one plugin file.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "lowercase")]
pub enum PluginStatus {
    Loaded,
    Disabled(String),
    Refused(String),
}

impl PluginStatus {
    /// `loaded`, `disabled: REASON`, `refused: REASON`.
    pub fn describe(&self) -> String {
        match self {
            PluginStatus::Loaded => "loaded".to_string(),
            PluginStatus::Disabled(reason) => format!("disabled: {reason}"),
            PluginStatus::Refused(reason) => format!("refused: {reason}"),
        }
    }
}

/// One plugin file and what became of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginReport {
    /// The plugin's name, or the name its file suggests when it was never opened.
    pub name: String,
    pub version: Option<String>,
    pub plugin_api_version: Option<String>,
    pub description: Option<String>,
    pub path: PathBuf,
    /// Backends it registered.
    pub backends: Vec<String>,
    /// Backends it brought that could not be registered (a loaded plugin may still have some).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(flatten)]
    pub status: PluginStatus,
}

/// Which plugins this run skips.
#[derive(Debug, Clone, Default)]
pub struct PluginSwitches {
    /// `[plugins.NAME] enabled = false`.
    pub disabled_in_settings: Vec<String>,
    /// `--disable-plugin NAME`.
    pub disabled_for_run: Vec<String>,
    /// `--no-plugins`.
    pub no_plugins: bool,
}

impl PluginSwitches {
    /// The switches of this run: settings, then `--disable-plugin` and `--no-plugins`.
    pub fn for_run(settings: &crate::config::Settings, run: &RunOptions) -> Self {
        PluginSwitches {
            disabled_in_settings: settings.disabled_plugins.clone(),
            disabled_for_run: run.disabled_plugins.clone(),
            no_plugins: run.no_plugins,
        }
    }

    /// Is plugin `name` switched off for this run?
    pub fn is_disabled(&self, name: &str) -> bool {
        self.why_disabled(name).is_some()
    }

    fn why_disabled(&self, name: &str) -> Option<String> {
        if self.no_plugins {
            Some("--no-plugins".to_string())
        } else if self.disabled_for_run.iter().any(|n| n == name) {
            Some(format!("--disable-plugin {name}"))
        } else if self.disabled_in_settings.iter().any(|n| n == name) {
            Some(format!("[plugins.{name}] enabled = false"))
        } else {
            None
        }
    }
}

/// Everything plugin loading found: one report per file and the warning lines it printed.
#[derive(Debug, Clone, Default)]
pub struct PluginLoad {
    pub reports: Vec<PluginReport>,
    pub warnings: Vec<String>,
}

impl PluginLoad {
    /// Was a plugin of this name found but refused (so its backends are missing)?
    pub fn failed(&self, plugin: &str) -> bool {
        self.reports
            .iter()
            .any(|r| r.name == plugin && matches!(r.status, PluginStatus::Refused(_)))
            && !self
                .reports
                .iter()
                .any(|r| r.name == plugin && r.status == PluginStatus::Loaded)
    }
}

/// Load every plugin of this run into `registry` and print one warning line per problem to
/// stderr (unless `quiet`); what became of each plugin file is returned.
pub fn load_into(
    registry: &mut Registry,
    switches: &PluginSwitches,
    services: Arc<dyn HostServices>,
    quiet: bool,
) -> PluginLoad {
    let (files, mut warnings) = discovery::scan(&discovery::plugin_dirs());
    let mut reports: Vec<PluginReport> = Vec::new();
    for candidate in files {
        let report = load_one(&candidate, registry, switches, &reports, services.clone());
        if let Some(warning) = warning_for(&report) {
            warnings.push(warning);
        }
        reports.push(report);
    }
    for name in &switches.disabled_for_run {
        if !reports.iter().any(|r| &r.name == name) {
            warnings.push(format!(
                "--disable-plugin {name}: no plugin of that name was found"
            ));
        }
    }
    if !quiet {
        for warning in &warnings {
            crate::warnings::warn(warning);
        }
    }
    PluginLoad { reports, warnings }
}

fn warning_for(report: &PluginReport) -> Option<String> {
    let problem = match &report.status {
        PluginStatus::Refused(reason) => reason.clone(),
        _ if !report.problems.is_empty() => report.problems.join("; "),
        _ => return None,
    };
    Some(format!("plugin {}: {problem}", report.path.display()))
}

fn load_one(
    candidate: &discovery::Candidate,
    registry: &mut Registry,
    switches: &PluginSwitches,
    earlier: &[PluginReport],
    services: Arc<dyn HostServices>,
) -> PluginReport {
    let path = candidate.path.as_path();
    let mut report = PluginReport {
        name: discovery::name_from_file(path),
        version: None,
        plugin_api_version: None,
        description: None,
        path: path.to_path_buf(),
        backends: Vec::new(),
        problems: Vec::new(),
        status: PluginStatus::Loaded,
    };
    // A name disabled by its file name is never opened.
    if let Some(reason) = switches.why_disabled(&report.name) {
        report.status = PluginStatus::Disabled(reason);
        return report;
    }
    // Nor is a file that is no library (a FIFO would block the open).
    if let Some(reason) = &candidate.unusable {
        report.status = PluginStatus::Refused(format!("unusable: {reason}"));
        return report;
    }
    let library = match LoadedLibrary::open(path) {
        Ok(library) => library,
        Err(err) => {
            report.status = PluginStatus::Refused(err.to_string());
            return report;
        }
    };
    report.name = library.info.name.clone();
    report.version = Some(library.info.version.clone());
    report.plugin_api_version = Some(library.info.plugin_api_version.clone());
    report.description = Some(library.info.description.clone());
    if let Some(reason) = switches.why_disabled(&report.name) {
        report.status = PluginStatus::Disabled(reason);
        return report;
    }
    if let Some(first) = earlier
        .iter()
        .find(|r| r.name == report.name && r.status == PluginStatus::Loaded)
    {
        report.status = PluginStatus::Refused(format!(
            "plugin '{}' is already loaded from {}; remove one of the two files",
            report.name,
            first.path.display()
        ));
        return report;
    }
    let started = match library.start(services) {
        Ok(started) => started,
        Err(err) => {
            report.status = PluginStatus::Refused(format!("on_startup failed: {}", err.message));
            return report;
        }
    };
    let mut taken = Vec::new();
    for backend in started.backends {
        let origin = BackendOrigin::Plugin {
            name: report.name.clone(),
            path: path.display().to_string(),
        };
        match registry.register(backend, origin) {
            Ok(name) => report.backends.push(name),
            Err(dup) => taken.push(format!(
                "backend '{}' is already registered by {}",
                dup.name,
                describe_origin(&dup.first)
            )),
        }
    }
    if !taken.is_empty() && report.backends.is_empty() {
        report.status = PluginStatus::Refused(format!(
            "{}; disable one of the two plugins",
            taken.join("; ")
        ));
    } else {
        report.problems = taken;
    }
    report
}

fn describe_origin(origin: &BackendOrigin) -> String {
    match origin {
        BackendOrigin::BuiltIn => "mngr itself (built in)".to_string(),
        BackendOrigin::Plugin { name, path } => format!("plugin '{name}' ({path})"),
    }
}
