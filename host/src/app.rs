//! The per-run context every command works from: merged settings, the backend registry (built-in
//! plus plugins), and the enabled provider instances.

use crate::cli::GlobalOptions;
use crate::config::Settings;
use crate::error::{MngrError, Result};
use crate::output::OutputFormat;
use crate::paths;
use crate::providers::local::LocalBackend;
use crate::registry::{BackendOrigin, Registry};
use mngr_plugin_api::{Capabilities, HostServices, InstanceContext, LogLevel, ProviderInstance};
use std::sync::Arc;

/// One enabled provider instance.
pub struct ProviderHandle {
    pub name: String,
    pub backend: String,
    pub instance: Arc<dyn ProviderInstance>,
    pub capabilities: Capabilities,
}

pub struct App {
    pub global: GlobalOptions,
    pub format: OutputFormat,
    pub settings: Settings,
    pub registry: Registry,
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
    pub fn services(&self) -> Arc<dyn HostServices> {
        services_for(&self.global)
    }

    /// Load settings and backends and build every enabled provider instance.
    pub fn load(global: &GlobalOptions) -> Result<App> {
        let settings = Settings::default();
        let mut registry = Registry::new();
        registry
            .register(
                Arc::new(LocalBackend {
                    root: paths::mngr_root(),
                }),
                BackendOrigin::BuiltIn,
            )
            .map_err(|d| MngrError::failure(format!("backend '{}' registered twice", d.name)))?;
        let services = services_for(global);
        let mut providers = Vec::new();
        for name in registry.names() {
            let entry = registry.get(&name).expect("listed");
            let ctx = InstanceContext {
                instance_name: name.clone(),
                state_dir: paths::provider_state_dir(&name),
                prefix: settings.prefix.clone(),
                services: services.clone(),
            };
            let instance: Arc<dyn ProviderInstance> = Arc::from(
                entry
                    .backend
                    .build_instance(ctx, serde_json::Map::new())
                    .map_err(|e| MngrError::from_provider(&name, e))?,
            );
            providers.push(ProviderHandle {
                capabilities: instance.capabilities(),
                name: name.clone(),
                backend: name,
                instance,
            });
        }
        Ok(App {
            format: OutputFormat::parse(&global.format),
            global: global.clone(),
            settings,
            registry,
            providers,
        })
    }

    pub fn provider(&self, name: &str) -> Result<&ProviderHandle> {
        self.providers
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.providers.iter().map(|p| p.name.as_str()).collect();
                MngrError::not_found(format!(
                    "unknown provider '{name}'; enabled providers: {}",
                    known.join(", ")
                ))
            })
    }
}

fn services_for(global: &GlobalOptions) -> Arc<dyn HostServices> {
    let verbosity = if global.quiet {
        -1
    } else {
        global.verbose as i8
    };
    Arc::new(StderrServices { verbosity })
}
