//! The per-run context every command works from: merged settings, the backend registry (built-in
//! plus plugins), and the enabled provider instances.

use crate::config::{LoadOptions, Settings};
use crate::error::{MngrError, Result};
use crate::instances::{
    InstancePlan, ProviderHandle, ProviderSet, build_instances, plan_instances,
};
use crate::output::OutputFormat;
use crate::plugins::{PluginLoad, PluginSwitches};
use crate::providers::local::LocalBackend;
use crate::registry::{BackendOrigin, Registry};
use crate::run_options::RunOptions;
use mngr_plugin_api::{HostServices, LogLevel};
use std::sync::Arc;

pub struct App {
    pub format: OutputFormat,
    pub settings: Settings,
    pub registry: Registry,
    /// Every provider instance, enabled or not (for `mngr provider list`).
    pub instances: Vec<InstancePlan>,
    /// The enabled instances, built.
    pub providers: Vec<ProviderHandle>,
}

/// Logging and progress for providers: to stderr, filtered by -q / -v.
pub struct StderrServices {
    pub verbosity: i8,
}

impl HostServices for StderrServices {
    fn log(&self, level: LogLevel, message: &str) {
        let min = match level {
            LogLevel::Error => -1,
            LogLevel::Warn => 0,
            LogLevel::Info => 1,
            LogLevel::Debug => 2,
            LogLevel::Trace => 3,
        };
        if self.verbosity >= min {
            eprintln!("{}: {message}", format!("{level:?}").to_lowercase());
        }
    }
    fn progress(&self, message: &str) {
        if self.verbosity >= 0 {
            eprintln!("{message}");
        }
    }
    fn host_version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

impl App {
    /// Load settings and backends and build every enabled provider instance.
    pub fn load(run: &RunOptions) -> Result<App> {
        App::from_settings(run, load_settings(run)?)
    }

    /// Like `load`, with settings already loaded (`mngr config set` checks a change this way
    /// before writing it).
    pub fn from_settings(run: &RunOptions, mut settings: Settings) -> Result<App> {
        // Flags are the top layer.
        settings.headless |= run.headless;
        crate::agents::host::set_lock_timeout(settings.lock_timeout);
        let (registry, plugins) = build_registry(run, &settings)?;
        let services = services_for(run);
        let (instances, providers) =
            provider_instances(run, &settings, &registry, &plugins, &services)?;
        Ok(App {
            format: OutputFormat::parse(&run.format),
            settings,
            registry,
            instances,
            providers,
        })
    }

    /// The enabled instance `name`.
    pub fn provider(&self, name: &str) -> Result<&ProviderHandle> {
        crate::instances::find(&self.providers, &self.instances, name)
    }

    /// The enabled instances, to look providers up in.
    pub fn provider_set(&self) -> ProviderSet<'_> {
        ProviderSet {
            handles: &self.providers,
            plans: &self.instances,
        }
    }

    /// The instances named, or every enabled one.
    pub fn select_providers(&self, names: &[String]) -> Result<Vec<&ProviderHandle>> {
        crate::instances::select(&self.providers, &self.instances, names)
    }
}

/// Merge every settings layer for this run (files, environment, `-S`).
pub fn load_settings(run: &RunOptions) -> Result<Settings> {
    crate::config::load(&LoadOptions::from_process(
        &run.settings_overrides,
        Some(run.commands.clone()),
    ))
}

/// The backends of this run: built-in ones, then those plugins register; with what became of
/// each plugin file.
pub fn build_registry(run: &RunOptions, settings: &Settings) -> Result<(Registry, PluginLoad)> {
    let mut registry = Registry::new();
    registry
        .register(
            Arc::new(LocalBackend {
                root: settings.locations.root.clone(),
            }),
            BackendOrigin::BuiltIn,
        )
        .map_err(|d| MngrError::failure(format!("backend '{}' registered twice", d.name)))?;
    let plugins = crate::plugins::load_into(
        &mut registry,
        &PluginSwitches::for_run(settings, run),
        services_for(run),
        run.quiet,
    );
    Ok((registry, plugins))
}

/// Plan every provider instance and build the enabled ones.
pub fn provider_instances(
    run: &RunOptions,
    settings: &Settings,
    registry: &Registry,
    plugins: &PluginLoad,
    services: &Arc<dyn HostServices>,
) -> Result<(Vec<InstancePlan>, Vec<ProviderHandle>)> {
    let mut plans = plan_instances(
        settings,
        registry,
        &PluginSwitches::for_run(settings, run),
        plugins,
    )?;
    let handles = build_instances(&mut plans, settings, registry, services)?;
    Ok((plans, handles))
}

fn services_for(run: &RunOptions) -> Arc<dyn HostServices> {
    let verbosity = crate::timing::verbosity_of(run.quiet, run.verbose);
    crate::timing::set_verbosity(verbosity);
    Arc::new(StderrServices { verbosity })
}
