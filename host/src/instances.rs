//! Which provider instances exist in this run, and building the enabled ones.
//!
//! - Every `[providers.NAME]` table is an instance of its `backend` (default: NAME).
//! - Every registered backend also gets a default instance named after it, unless a table of
//!   that name exists (which then configures it).
//! - An instance is disabled by `is_enabled = false`, by a non-empty `enabled_backends` that
//!   leaves out its backend, or by its plugin being disabled (then its backend is missing).
//!   Disabled instances are still listed (`mngr provider list`), with the reason.

use crate::bounded::{TimedInstance, Unfinished};
use crate::config::{ProviderSettings, Settings};
use crate::error::{MngrError, Result};
use crate::plugins::{PluginLoad, PluginSwitches};
use crate::registry::{BackendOrigin, Registry};
use mngr_plugin_api::{
    Capabilities, ErrorKind, HostServices, InstanceContext, ProviderError, ProviderInstance,
};
use std::sync::Arc;
use std::time::Duration;

/// The source label of instances that no settings table defines.
pub const DEFAULT_SOURCE: &str = "default";

/// One provider instance as settings and the registry define it, enabled or not.
#[derive(Debug, Clone, PartialEq)]
pub struct InstancePlan {
    pub name: String,
    pub backend: String,
    /// Which layers defined it ("user", "project+local", ...) or "default".
    pub source: String,
    /// The settings table, for error messages (`None` for default instances).
    pub settings: Option<ProviderSettings>,
    pub enabled: bool,
    /// Why the instance is disabled.
    pub reason: Option<String>,
    /// Disabled because its service could not be reached while building it: a name that is
    /// not found elsewhere may still be there.
    pub unreachable: bool,
    /// The backend's keys from the table.
    pub config: serde_json::Map<String, serde_json::Value>,
}

/// One enabled, built provider instance. Its queries are bounded by `timeout`
/// ([`crate::bounded`]).
#[derive(Clone)]
pub struct ProviderHandle {
    pub name: String,
    pub backend: String,
    pub instance: Arc<dyn ProviderInstance>,
    pub capabilities: Capabilities,
    /// `provider_timeout` of this instance.
    pub timeout: Duration,
}

/// The enabled provider instances of a run, with the plans that say why a name is missing:
/// what the agent layer looks providers up in (instead of the whole run context).
#[derive(Clone, Copy)]
pub struct ProviderSet<'a> {
    pub handles: &'a [ProviderHandle],
    pub plans: &'a [InstancePlan],
}

impl<'a> ProviderSet<'a> {
    /// The enabled instance `name` ([`find`]).
    pub fn find(&self, name: &str) -> Result<&'a ProviderHandle> {
        find(self.handles, self.plans, name)
    }
}

/// The enabled instance `name` among `providers`; when there is none, `plans` tell whether it
/// is unreachable (exit 6) or unknown (exit 9).
pub fn find<'a>(
    providers: &'a [ProviderHandle],
    plans: &[InstancePlan],
    name: &str,
) -> Result<&'a ProviderHandle> {
    providers.iter().find(|p| p.name == name).ok_or_else(|| {
        if let Some(plan) = plans.iter().find(|p| p.name == name && p.unreachable) {
            return MngrError::unavailable(format!(
                "provider '{name}' is unreachable ({})",
                plan.reason.as_deref().unwrap_or("no answer")
            ));
        }
        let known: Vec<&str> = providers.iter().map(|p| p.name.as_str()).collect();
        MngrError::not_found(format!(
            "unknown provider '{name}'; enabled providers: {}",
            known.join(", ")
        ))
    })
}

/// The instances `names` names ([`find`] each), or every enabled one when it is empty.
pub fn select<'a>(
    providers: &'a [ProviderHandle],
    plans: &[InstancePlan],
    names: &[String],
) -> Result<Vec<&'a ProviderHandle>> {
    if names.is_empty() {
        return Ok(providers.iter().collect());
    }
    names.iter().map(|n| find(providers, plans, n)).collect()
}

/// Every instance, sorted by name. An enabled table naming a backend nobody registered is an
/// error (exit 8) listing the registered backends, unless its plugin is disabled or `loaded`
/// says it failed to load.
pub fn plan_instances(
    settings: &Settings,
    registry: &Registry,
    plugins: &PluginSwitches,
    loaded: &PluginLoad,
) -> Result<Vec<InstancePlan>> {
    let backend_filter = |backend: &str| {
        (!settings.enabled_backends.is_empty()
            && !settings.enabled_backends.iter().any(|b| b == backend))
        .then(|| format!("backend '{backend}' is not in enabled_backends"))
    };
    let mut plans = Vec::new();
    for (name, table) in &settings.providers {
        let mut reason = None;
        if !table.is_enabled {
            reason = Some("is_enabled = false".to_string());
        } else if registry.get(&table.backend).is_none() {
            if plugins.is_disabled(&table.plugin) {
                reason = Some(format!("plugin '{}' is disabled", table.plugin));
            } else if loaded.failed(&table.plugin) {
                // Plugin loading already warned about it; commands that do not need it still run.
                reason = Some(format!(
                    "plugin '{}' failed to load (see `mngr plugin list`)",
                    table.plugin
                ));
            } else {
                let from = table.describe_sources("'backend'");
                return Err(unknown_backend(
                    name,
                    &table.backend,
                    &from,
                    registry,
                    plugins,
                ));
            }
        } else if let Some(why) = backend_filter(&table.backend) {
            reason = Some(why);
        }
        plans.push(InstancePlan {
            name: name.clone(),
            backend: table.backend.clone(),
            source: table.source.clone(),
            settings: Some(table.clone()),
            enabled: reason.is_none(),
            reason,
            unreachable: false,
            config: table.config.clone(),
        });
    }
    for backend in registry.names() {
        if settings.providers.contains_key(&backend) {
            continue;
        }
        let reason = backend_filter(&backend);
        plans.push(InstancePlan {
            name: backend.clone(),
            backend,
            source: DEFAULT_SOURCE.to_string(),
            settings: None,
            enabled: reason.is_none(),
            reason,
            unreachable: false,
            config: serde_json::Map::new(),
        });
    }
    plans.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(plans)
}

fn unknown_backend(
    name: &str,
    backend: &str,
    from: &str,
    registry: &Registry,
    plugins: &PluginSwitches,
) -> MngrError {
    let err = MngrError::settings(format!(
        "{from}: [providers.{name}] uses unknown backend '{backend}'; registered backends: {}",
        registry.names().join(", ")
    ));
    let mut disabled: Vec<&str> = plugins
        .disabled_in_settings
        .iter()
        .chain(&plugins.disabled_for_run)
        .map(String::as_str)
        .collect();
    disabled.sort_unstable();
    disabled.dedup();
    if disabled.is_empty() {
        err.with_hint(format!(
            "install the plugin that provides '{backend}' (see `mngr plugin list`), fix 'backend', or set is_enabled = false"
        ))
    } else {
        err.with_hint(format!(
            "disabled plugins: {}; if one of them provides '{backend}', add plugin = \"PLUGIN\" to [providers.{name}] so the instance is skipped with it",
            disabled.join(", ")
        ))
    }
}

/// What the instance supports. A plugin that fails to say (an error or a panic across the FFI)
/// is warned about and treated as supporting nothing; the provider stays enabled.
fn capabilities_or_warn(
    provider: &str,
    origin: &BackendOrigin,
    instance: &dyn ProviderInstance,
) -> Capabilities {
    instance.try_capabilities().unwrap_or_else(|err| {
        crate::warnings::warn(format_args!(
            "provider '{provider}' (plugin '{}'): cannot read its capabilities, treating it as supporting none: {}",
            origin.plugin_name(),
            err.message
        ));
        Capabilities::default()
    })
}

/// Build every enabled instance through its backend. A backend refusing the configuration is
/// an error naming `[providers.NAME]` and where it was set (exit 8); a backend that cannot reach
/// its service right now is skipped with a warning and marked disabled in `plans`.
pub fn build_instances(
    plans: &mut [InstancePlan],
    settings: &Settings,
    registry: &Registry,
    services: &Arc<dyn HostServices>,
) -> Result<Vec<ProviderHandle>> {
    let mut handles = Vec::new();
    for plan in plans.iter_mut().filter(|p| p.enabled) {
        let entry = registry
            .get(&plan.backend)
            .expect("planned instances have a registered backend");
        let root = &settings.locations.root;
        let state_dir = root.join("providers").join(&plan.name);
        // The root and each state dir are the user's alone: they hold keys and records.
        for dir in [root, &state_dir] {
            crate::paths::private_dir(dir)
                .map_err(|e| MngrError::failure(format!("cannot create {}: {e}", dir.display())))?;
        }
        let ctx = InstanceContext::new(
            plan.name.clone(),
            state_dir,
            settings.prefix.clone(),
            services.clone(),
        );
        let timeout = plan
            .settings
            .as_ref()
            .and_then(|t| t.provider_timeout)
            .unwrap_or(settings.provider_timeout);
        let backend = entry.backend.clone();
        let config = plan.config.clone();
        let built = crate::bounded::call_within(timeout, move || {
            backend
                .build_instance(ctx, config)
                .map(Arc::<dyn ProviderInstance>::from)
        })
        .unwrap_or_else(|unfinished| {
            Err(match unfinished {
                Unfinished::TimedOut => {
                    crate::bounded::timed_out(&plan.name, "setting up the instance", timeout)
                }
                Unfinished::Panicked => ProviderError::new(
                    ErrorKind::Panic,
                    "the backend panicked while setting up the instance",
                ),
            })
        });
        match built {
            Ok(instance) => {
                let instance: Arc<dyn ProviderInstance> =
                    Arc::new(TimedInstance::new(&plan.name, instance, timeout));
                handles.push(ProviderHandle {
                    name: plan.name.clone(),
                    backend: plan.backend.clone(),
                    capabilities: capabilities_or_warn(&plan.name, &entry.origin, &*instance),
                    instance,
                    timeout,
                });
            }
            Err(err) if err.kind == ErrorKind::InvalidConfig => {
                let from = match &plan.settings {
                    Some(table) => table.describe_sources(&err.message),
                    None => format!("default instance of backend '{}'", plan.backend),
                };
                // A backend may echo what it was given: never the value of a secret key.
                let hide = |text: &str| {
                    crate::config::secret::hide_values(
                        text,
                        &["providers", &plan.name],
                        &plan.config,
                    )
                };
                let mut e = MngrError::settings(format!(
                    "{from}: invalid [providers.{}] (backend '{}'): {}",
                    plan.name,
                    plan.backend,
                    hide(&err.message)
                ));
                e.hint = err.hint.as_deref().map(hide);
                return Err(e);
            }
            // A default instance nobody configured, whose backend finds no credentials: the
            // user has no account there, which is no fault. It stays off quietly (`mngr
            // provider list` says why), so every other command works as without the plugin.
            Err(err) if err.kind == ErrorKind::Unauthenticated && plan.settings.is_none() => {
                plan.enabled = false;
                plan.reason = Some(format!("not set up: {}", err.message));
            }
            Err(err)
                if matches!(
                    err.kind,
                    ErrorKind::Unavailable | ErrorKind::Unauthenticated
                ) =>
            {
                crate::warnings::warn(format_args!(
                    "provider '{}' is unavailable and skipped: {}",
                    plan.name, err.message
                ));
                plan.enabled = false;
                plan.unreachable = true;
                plan.reason = Some(format!("unavailable: {}", err.message));
            }
            // A plugin bug must not stop commands that do not need this provider.
            Err(err) if err.kind == ErrorKind::Panic => {
                crate::warnings::warn(format_args!(
                    "provider '{}' is skipped: {}",
                    plan.name, err.message
                ));
                plan.enabled = false;
                plan.reason = Some(err.message);
            }
            Err(err) => return Err(MngrError::from_provider(&plan.name, err)),
        }
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mngr_plugin_api::{
        BackendDescription, LogLevel, ProviderBackend, ProviderError, ProviderResult,
    };

    /// A backend whose instances never build: `fail` says why, given the instance's config.
    struct FailingBackend {
        name: &'static str,
        about: &'static str,
        fail: fn(&serde_json::Map<String, serde_json::Value>) -> ProviderError,
    }

    impl ProviderBackend for FailingBackend {
        fn describe(&self) -> BackendDescription {
            BackendDescription::new(self.name, self.about)
        }
        fn build_instance(
            &self,
            _ctx: InstanceContext,
            config: serde_json::Map<String, serde_json::Value>,
        ) -> ProviderResult<Box<dyn ProviderInstance>> {
            Err((self.fail)(&config))
        }
    }

    /// A registry of one built-in backend.
    fn registry_of(backend: FailingBackend) -> Registry {
        let mut registry = Registry::new();
        registry
            .register(Arc::new(backend), BackendOrigin::BuiltIn)
            .map_err(|_| ())
            .unwrap();
        registry
    }

    /// A backend whose service is down: building an instance reports `Unavailable`.
    const DOWN: FailingBackend = FailingBackend {
        name: "down",
        about: "service that is down",
        fail: |_| ProviderError::new(ErrorKind::Unavailable, "daemon not running"),
    };

    /// A backend whose account this machine has no credentials for.
    const NO_ACCOUNT: FailingBackend = FailingBackend {
        name: "cloud",
        about: "a service that needs an account",
        fail: |_| ProviderError::new(ErrorKind::Unauthenticated, "no token found"),
    };

    /// A backend that refuses its config, echoing every value it was given.
    const ECHO: FailingBackend = FailingBackend {
        name: "echo",
        about: "refuses its config verbatim",
        fail: |config| {
            ProviderError::invalid_config(format!("bad config {config:?}"))
                .with_hint(format!("{config:?}"))
        },
    };

    struct Quiet;
    impl HostServices for Quiet {
        fn log(&self, _: LogLevel, _: &str) {}
        fn progress(&self, _: &str) {}
        fn host_version(&self) -> String {
            String::new()
        }
    }

    #[test]
    fn a_backend_that_echoes_its_config_never_shows_a_secret_value() {
        let root = tempfile::tempdir().unwrap();
        let registry = registry_of(ECHO);
        let opts = crate::config::LoadOptions {
            locations: crate::config::Locations {
                root: root.path().to_path_buf(),
                project_dir: None,
            },
            env: Vec::new(),
            setting_args: vec![
                "providers.echo.api_token=s3cretTOKEN".to_string(),
                "providers.echo.region=eu-west".to_string(),
            ],
            schema: Default::default(),
            replace: None,
            check_trust: true,
            replacement_trusted: false,
        };
        let settings = crate::config::load(&opts).unwrap();
        let switches = PluginSwitches::default();
        let mut plans =
            plan_instances(&settings, &registry, &switches, &PluginLoad::default()).unwrap();
        let services: Arc<dyn HostServices> = Arc::new(Quiet);
        let err = build_instances(&mut plans, &settings, &registry, &services)
            .err()
            .unwrap();
        let shown = format!("{} {}", err.message, err.hint.unwrap());
        assert!(!shown.contains("s3cretTOKEN"), "{shown}");
        assert!(
            shown.contains("<secret, not shown>") && shown.contains("eu-west"),
            "{shown}"
        );
    }

    #[test]
    fn an_unreachable_backend_is_skipped_and_marked_disabled() {
        let root = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.locations.root = root.path().to_path_buf();
        let registry = registry_of(DOWN);
        let switches = PluginSwitches::default();
        let mut plans =
            plan_instances(&settings, &registry, &switches, &PluginLoad::default()).unwrap();
        assert_eq!(plans.len(), 1);
        assert!(plans[0].enabled);
        let services: Arc<dyn HostServices> = Arc::new(Quiet);
        let handles = build_instances(&mut plans, &settings, &registry, &services).unwrap();
        assert!(handles.is_empty());
        assert!(!plans[0].enabled);
        assert_eq!(
            plans[0].reason.as_deref(),
            Some("unavailable: daemon not running")
        );
        assert!(plans[0].unreachable);
        assert!(root.path().join("providers/down").is_dir());
    }

    #[test]
    fn a_default_instance_without_credentials_is_off_quietly_not_unreachable() {
        let root = tempfile::tempdir().unwrap();
        let mut settings = Settings::default();
        settings.locations.root = root.path().to_path_buf();
        let registry = registry_of(NO_ACCOUNT);
        let services: Arc<dyn HostServices> = Arc::new(Quiet);
        let switches = PluginSwitches::default();

        let mut plans =
            plan_instances(&settings, &registry, &switches, &PluginLoad::default()).unwrap();
        assert!(
            build_instances(&mut plans, &settings, &registry, &services)
                .unwrap()
                .is_empty()
        );
        assert!(!plans[0].enabled && !plans[0].unreachable);
        assert_eq!(
            plans[0].reason.as_deref(),
            Some("not set up: no token found")
        );
    }
}
